"""The training data of time_sequence_prediction: N sine waves of length L with random phase
shifts, float64, written with torch.save (as pytorch/examples generates traindata.pt).
Added for short runs: --count and --length (the original's N = 100, L = 1000 are the defaults)."""
import argparse

import numpy as np
import torch

parser = argparse.ArgumentParser()
parser.add_argument('--count', type=int, default=100, help='number of waves (N)')
parser.add_argument('--length', type=int, default=1000, help='samples per wave (L)')
opt = parser.parse_args()

np.random.seed(2)

T = 20
L = opt.length
N = opt.count

x = np.empty((N, L), 'int64')
x[:] = np.array(range(L)) + np.random.randint(-4 * T, 4 * T, N).reshape(N, 1)
data = np.sin(x / 1.0 / T).astype('float64')
torch.save(data, open('traindata.pt', 'wb'))
