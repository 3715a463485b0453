"""tinygen.optim: optimisers and learning-rate schedulers in PyTorch's dialect.

    opt = tg.optim.Adam(model.parameters(), lr=1e-3)
    sched = tg.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=1000)

Every torch.optim optimiser but SparseAdam (tinygen's embeddings give dense gradients, for which
PyTorch's SparseAdam refuses to work too), Muon included (2-D hidden-layer weights; its
Newton-Schulz steps in float32, not bfloat16: optim/muon.py); `swa_utils` (AveragedModel, SWALR,
update_bn: weight averaging) as torch.optim.swa_utils.
"""
from . import lr_scheduler, swa_utils
from .adafactor import Adafactor
from .adagrad import Adadelta, Adagrad
from .adam import Adam, AdamW
from .adam_variants import Adamax, NAdam, RAdam
from .asgd import ASGD, Rprop
from .lbfgs import LBFGS
from .muon import Muon
from .optimizer import Optimizer, required
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["SGD", "Adafactor", "Adam", "AdamW", "Adadelta", "Adagrad", "Adamax", "NAdam",
           "RAdam", "ASGD", "Rprop", "LBFGS", "Muon", "RMSprop", "Optimizer", "lr_scheduler",
           "required", "swa_utils"]
