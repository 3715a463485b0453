#!/usr/bin/env python
"""Polynomial regression, in the form of pytorch/examples regression/main.py: a random degree-4
polynomial y = w1 x + w2 x^2 + w3 x^3 + w4 x^4 + b is the target, and one Linear(4, 1) layer,
fed the features [x, x^2, x^3, x^4], learns it from fresh random batches by smooth-L1 loss and a
gradient-descent step written out by hand on each parameter's .grad (no optimiser), until a
batch's loss is below 1e-3. Then it prints the learned and the true polynomial side by side.
A plain PyTorch program: the tests run it unchanged on tinygen through the import shim. The
target is drawn unseeded, as in the original (the tests seed before they run it); it has no
flags and needs nothing added for short runs."""
import itertools

import torch
import torch.nn.functional as F

DEGREE = 4
BATCH = 32
STEP_SIZE = 0.1
GOOD_ENOUGH = 1e-3

# the polynomial to recover: its coefficients for x^1..x^DEGREE, and its constant term
true_coefficients = 5 * torch.randn(DEGREE, 1)
true_constant = 5 * torch.randn(1)


def powers_of(x):
    """(n,) samples -> (n, DEGREE) features: column k holds x ** (k + 1)."""
    column = x.reshape(-1, 1)
    return torch.cat([column.pow(k) for k in range(1, DEGREE + 1)], dim=1)


def target(features):
    """The true polynomial at the points whose features are given: (n, 1)."""
    return features @ true_coefficients + true_constant


def sample(n=BATCH):
    """n random points x ~ N(0, 1): their features and the polynomial's values there."""
    features = powers_of(torch.randn(n))
    return features, target(features)


def describe(coefficients, constant):
    """'y = +0.62 x^1 -0.56 x^2 +3.21 x^3 +0.48 x^4 -2.67'"""
    terms = ['{:+.2f} x^{}'.format(float(c), power)
             for power, c in enumerate(coefficients.tolist(), start=1)]
    return 'y = ' + ' '.join(terms) + ' {:+.2f}'.format(float(constant))


model = torch.nn.Linear(DEGREE, 1)

for step in itertools.count(1):
    features, values = sample()
    model.zero_grad()
    loss = F.smooth_l1_loss(model(features), values)
    loss.backward()
    # plain gradient descent, by hand: move every parameter against its gradient
    for parameter in model.parameters():
        parameter.data.add_(-STEP_SIZE * parameter.grad)
    last_loss = loss.item()
    if last_loss < GOOD_ENOUGH:
        break

print('Loss: {:.6f} after {} batches'.format(last_loss, step))
print('==> Learned function:\t' + describe(model.weight.detach().reshape(-1), model.bias.item()))
print('==> Actual function:\t' + describe(true_coefficients.reshape(-1), true_constant.item()))
