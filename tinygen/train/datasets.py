"""Datasets for the workbench: tinygen.data.load plus the facts a recipe needs (shape, classes)."""
from __future__ import annotations

import os

import numpy as np

from .. import data as D
from .errors import UsageError
from .recipes import DataInfo


def load_data(name, recipe_cls, data_dir=None, options=None) -> DataInfo:
    """Dataset `name` for a recipe class: its train and test splits (the validation split for
    text) and their shape. UsageError for a name that is no dataset, or one of a kind the recipe
    does not train on."""
    options = options or {}
    key = D.canonical_name(name) if isinstance(name, str) else None
    kind = ("image" if key in D.IMAGE_DATASETS else "toy" if key in D.TOY_DATASETS
            else "task" if key is None and name in recipe_cls.tasks else "text")
    if kind == "text" and key is None and not os.path.isfile(str(name)):
        known = ", ".join(D.DATASETS + tuple(recipe_cls.tasks))
        raise UsageError(f"--data {name}: not a dataset tinygen knows ({known}) nor a text file")
    if kind not in recipe_cls.data_kinds:
        raise UsageError(f"--data {name}: {recipe_cls.name} trains on "
                         f"{'/'.join(recipe_cls.data_kinds)} data; {name!r} is {kind} data")
    if kind == "task":
        return recipe_cls.make_task(name, options)
    test_split = "val" if kind == "text" else "test"
    if kind == "toy":
        # the toys are drawn by code, so a recipe may ask for more training points than the
        # default 10 000 (FFJORD draws a fresh batch every step); --set train_size=N overrides
        size = options.get("train_size") or recipe_cls.toy_train_size
        try:
            train = D.load(name, "train", n=None if size is None else int(size))
        except (ValueError, MemoryError) as e:   # more points than NumPy can hold
            raise UsageError(f"--set train_size={size}: {e}") from None
    elif kind == "image":
        # --set image_size=N resizes the images once at load (lfw-faces: 32 unless given)
        size = options.get("image_size")
        size = None if size is None else int(size)
        try:
            train = D.load(name, "train", root=data_dir, size=size)
            test = D.load(name, test_split, root=data_dir, size=size)
        except ValueError as e:                  # an image size out of range
            raise UsageError(f"--data {name}: {e}") from None
    else:
        train = D.load(name, "train", root=data_dir)
    if kind != "image":
        test = D.load(name, test_split, root=data_dir)
    if kind == "text":
        return DataInfo(key or str(name), train, test, shape=(), extra={"vocab": train.vocab})
    x = train.take(np.arange(1))[0]                               # (1, *shape): one sample
    classes = None
    if kind == "image":
        if isinstance(train, D.ImageDataset):    # None for the unlabelled faces (labels all 0)
            classes = train.num_classes
        else:
            classes = int(train.tensors[1].max().item()) + 1
    return DataInfo(key, train, test, shape=tuple(x.shape[1:]), num_classes=classes)
