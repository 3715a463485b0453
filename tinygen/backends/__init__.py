"""`tg.backends`, as `torch.backends`: the switches PyTorch scripts set for their accelerator
libraries. tinygen uses neither cuDNN nor Metal, so the switches are recorded and change nothing:

    import tinygen.backends.cudnn as cudnn
    cudnn.benchmark = True                  # accepted; tinygen's convolutions do not autotune
    tg.backends.mps.is_available()          # False: tinygen has no Apple-GPU device
    tg.backends.cuda.matmul.allow_tf32 = True   # accepted; products keep their precision
"""
from . import cuda, cudnn, mps

__all__ = ["cuda", "cudnn", "mps"]
