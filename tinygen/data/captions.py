"""Template captions for the labelled image sets: paired image-text data with no download.

Each class has names (a digit: its word and its numeral; a garment: one or two common names) and
each dataset a list of templates; a caption is one template filled with one name, drawn at random
for every image at every step (tinygen/train/recipes/clip.py), so the text encoder sees many
phrasings of each class. `prompts(name)` lists every (template, name) caption of each class: the
prompt ensemble of zero-shot classification.

    >>> captions = CaptionSet("mnist")
    >>> captions.prompts[7][:2]
    ['a photo of the digit seven', 'a photo of the digit 7']
"""
from __future__ import annotations

import numpy as np

DIGIT_NAMES = [("zero", "0"), ("one", "1"), ("two", "2"), ("three", "3"), ("four", "4"),
               ("five", "5"), ("six", "6"), ("seven", "7"), ("eight", "8"), ("nine", "9")]
DIGIT_TEMPLATES = ["a photo of the digit {}", "a handwritten {}", "an image of the number {}",
                   "a drawing of a {}", "the digit {}, written by hand", "a scan of a {}",
                   "a picture of the number {}", "a {}"]

# Fashion-MNIST's classes (Xiao et al. 2017, the labels' order)
FASHION_NAMES = [("t-shirt", "top"), ("trouser", "pair of trousers"), ("pullover", "sweater"),
                 ("dress",), ("coat",), ("sandal",), ("shirt",), ("sneaker", "trainer"),
                 ("bag", "handbag"), ("ankle boot", "boot")]
FASHION_TEMPLATES = ["a photo of a {}", "an image of a {}", "a picture of a {}",
                     "a low resolution photo of a {}", "a {}", "a photo of the {}, a garment",
                     "a grayscale photo of a {}", "a product photo of a {}"]

# templates never used in training: zero-shot accuracy with these asks whether the text encoder
# reads the class name in a phrasing it has not seen (`tinygen eval`'s zero_shot_heldout_acc)
HELDOUT_DIGIT_TEMPLATES = ["a number {} drawn in ink", "this is a {}", "my favourite digit, {}"]
HELDOUT_FASHION_TEMPLATES = ["a {} for sale", "this is a {}", "a close-up photo of the {}"]

CLASSES = {"digits": (DIGIT_NAMES, DIGIT_TEMPLATES, HELDOUT_DIGIT_TEMPLATES),
           "mnist": (DIGIT_NAMES, DIGIT_TEMPLATES, HELDOUT_DIGIT_TEMPLATES),
           "fashion-mnist": (FASHION_NAMES, FASHION_TEMPLATES, HELDOUT_FASHION_TEMPLATES)}


class CaptionSet:
    """The captions of dataset `name` (digits, mnist or fashion-mnist): prompts[k] lists every
    caption of class k (template x name); `sample(labels, rng)` draws one for each label;
    `heldout_prompts` the same for the templates training never sees."""

    def __init__(self, name):
        if name not in CLASSES:
            raise ValueError(f"CaptionSet: no captions for dataset {name!r}; expected one of "
                             f"{', '.join(CLASSES)}")
        names, templates, heldout = CLASSES[name]
        self.name = name
        self.class_names = [n[0] for n in names]
        self.templates = list(templates)
        self.prompts = [[t.format(n) for t in templates for n in alternatives]
                        for alternatives in names]
        self.heldout_prompts = [[t.format(n) for t in heldout for n in alternatives]
                                for alternatives in names]

    @property
    def num_classes(self):
        return len(self.prompts)

    @property
    def max_chars(self):
        return max(len(p) for ps in self.prompts + self.heldout_prompts for p in ps)

    def ensemble(self, heldout=False):
        """(K, P) captions, the same number P for every class (each class's list cycled to the
        longest, so the prompt ensemble is a plain mean): zero-shot classification's prompts
        (the training templates, or with heldout the ones training never sees)."""
        prompts = self.heldout_prompts if heldout else self.prompts
        longest = max(len(p) for p in prompts)
        return [[ps[i % len(ps)] for i in range(longest)] for ps in prompts]

    def sample(self, labels, rng: np.random.Generator):
        """One caption index for each label: (caption ids (B,) into `flat`, as int64)."""
        labels = np.asarray(labels)
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(f"CaptionSet.sample: labels must be in 0..{self.num_classes - 1}, "
                             f"got {labels.min()}..{labels.max()}")
        counts = np.array([len(p) for p in self.prompts])
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
        pick = np.floor(rng.random(labels.shape) * counts[labels]).astype(np.int64)
        return offsets[labels] + pick

    @property
    def flat(self):
        """Every caption, class by class: the strings that caption ids index."""
        return [p for ps in self.prompts for p in ps]

    def labels_of(self, caption_ids):
        """The class of each caption id."""
        counts = [len(p) for p in self.prompts]
        return np.repeat(np.arange(self.num_classes), counts)[np.asarray(caption_ids)]
