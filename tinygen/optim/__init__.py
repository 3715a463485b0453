"""tinygen.optim: optimisers and learning-rate schedulers in PyTorch's dialect.

    opt = tg.optim.Adam(model.parameters(), lr=1e-3)
    sched = tg.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=1000)
"""
from . import lr_scheduler
from .adam import Adam, AdamW
from .optimizer import Optimizer, required
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler", "required"]
