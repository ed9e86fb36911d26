"""A small real training run on whatever GPU hypersweep gives this trial.

Trains a two-layer MLP on a synthetic classification problem with PyTorch and prints one JSON line per
epoch ({"epoch": e, "val_loss": ...}). hypersweep passes the params in HYPERSWEEP_PARAMS and the GPU in
CUDA_VISIBLE_DEVICES; the script records which device it saw so a sweep can be audited.
"""
import json
import os

import torch

params = json.loads(os.environ["HYPERSWEEP_PARAMS"])
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
torch.manual_seed(int(os.environ.get("HYPERSWEEP_TRIAL", "0")))

n, d = 20000, 64
gen = torch.Generator().manual_seed(0)
x = torch.randn(n, d, generator=gen)
w_true = torch.randn(d, 1, generator=gen)
y = ((x @ w_true).squeeze(1) + 0.5 * torch.randn(n, generator=gen) > 0).float()
x, y = x.to(device), y.to(device)
x_train, y_train, x_val, y_val = x[:16000], y[:16000], x[16000:], y[16000:]

model = torch.nn.Sequential(
    torch.nn.Linear(d, params["width"]), torch.nn.ReLU(), torch.nn.Linear(params["width"], 1)
).to(device)
opt = torch.optim.Adam(model.parameters(), lr=params["lr"], weight_decay=params["weight_decay"])
loss_fn = torch.nn.BCEWithLogitsLoss()

print(json.dumps({"cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
                  "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu"}),
      flush=True)
for epoch in range(1, params["epochs"] + 1):
    perm = torch.randperm(16000, device=device)
    for i in range(0, 16000, params["batch_size"]):
        idx = perm[i:i + params["batch_size"]]
        opt.zero_grad()
        loss_fn(model(x_train[idx]).squeeze(1), y_train[idx]).backward()
        opt.step()
    with torch.no_grad():
        val = loss_fn(model(x_val).squeeze(1), y_val).item()
    print(json.dumps({"epoch": epoch, "val_loss": val}), flush=True)
