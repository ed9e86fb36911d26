"""A simulated training run for examples/quickstart.json (standard library only).

hypersweep passes the trial's parameters as the JSON object in the
HYPERSWEEP_PARAMS environment variable; this script prints one JSON line per
epoch, {"epoch": e, "val_loss": ...}, and hypersweep reads `val_loss` (the last
line is the trial's value). The loss surface is made up but behaves like a
real one: best near lr = 3e-3 with Adam, SGD needs momentum, and very small
or very large batches generalise worse. Like a real run it depends on its
seed (HYPERSWEEP_SEED): the seed shifts the whole curve a little, as the
initialisation and data order do, so two runs of one configuration differ
(by about 0.02 in val_loss).
Each epoch sleeps a little, so a trial takes a few hundred milliseconds.
"""

import json
import math
import os
import random
import time


def main():
    params = json.loads(os.environ["HYPERSWEEP_PARAMS"])
    lr = float(params["lr"])
    batch_size = int(params["batch_size"])
    optimizer = params["optimizer"]
    momentum = float(params.get("momentum", 0.0))
    epochs = int(params.get("epochs", 5))
    seed = int(os.environ.get("HYPERSWEEP_SEED", os.environ.get("HYPERSWEEP_TRIAL", "0")))
    # Part of a seed's luck is shared by every configuration run with it
    # (a lucky data order), part is the configuration's own.
    shared = random.Random(seed).gauss(0.0, 0.015)
    rng = random.Random(f"{seed}:{json.dumps(params, sort_keys=True)}")
    seed_effect = shared + rng.gauss(0.0, 0.015)

    # Distance from the best learning rate, in decades.
    best_lr = 3e-3 if optimizer == "adam" else 3e-2 * (1.0 - momentum) + 1e-3
    lr_penalty = (math.log10(lr) - math.log10(best_lr)) ** 2
    batch_penalty = 0.1 * (math.log2(batch_size) - 6.0) ** 2 / 4.0
    floor = 0.15 + 0.3 * lr_penalty + batch_penalty
    if optimizer == "sgd":
        floor += 0.2 * (1.0 - momentum)

    for epoch in range(1, epochs + 1):
        time.sleep(0.04)
        val_loss = floor + seed_effect + 2.0 * math.exp(-0.8 * epoch) + rng.gauss(0.0, 0.01)
        print(json.dumps({"epoch": epoch, "val_loss": val_loss}), flush=True)


if __name__ == "__main__":
    main()
