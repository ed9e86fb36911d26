"""A real training run for examples/train.json (standard library only).

A small multilayer perceptron (6 inputs, 12 tanh units, one logistic output)
is fit by minibatch SGD with momentum or by Adam to a generated binary
classification data set, and evaluated on a held-out split after every epoch.
Nothing is simulated: the loss is the network's, and it depends on the
learning rate, batch size, optimizer and momentum the way real training does
(too small a learning rate has not converged by the last epoch, too large a
one oscillates or diverges, small batches make noisy steps).

hypersweep passes the trial's parameters as the JSON object in the
HYPERSWEEP_PARAMS environment variable and the trial's seed in
HYPERSWEEP_SEED (the weights' initialisation and the order of the minibatches
come from it). The script prints one JSON line per epoch,
{"epoch": e, "val_loss": ..., "val_accuracy": ...}; the sweep reads
`val_loss`, and its pruner judges the trial at each epoch. A run whose loss
stops being finite exits with an error, which fails the trial.
"""

import json
import math
import os
import random
import sys

INPUTS, HIDDEN = 6, 12
TRAIN, VALIDATION = 768, 256


def data_set():
    """The same inputs and labels for every trial: a fixed random teacher
    network labels Gaussian inputs, with 5% of the labels flipped."""
    rng = random.Random(20261201)
    teacher_w = [[rng.gauss(0.0, 1.0) for _ in range(INPUTS)] for _ in range(4)]
    teacher_v = [rng.gauss(0.0, 2.0) for _ in range(4)]
    rows = []
    for _ in range(TRAIN + VALIDATION):
        x = [rng.gauss(0.0, 1.0) for _ in range(INPUTS)]
        h = [math.tanh(sum(w * xi for w, xi in zip(ws, x))) for ws in teacher_w]
        label = 1.0 if sum(v * hi for v, hi in zip(teacher_v, h)) > 0.0 else 0.0
        if rng.random() < 0.05:
            label = 1.0 - label
        rows.append((x, label))
    return rows[:TRAIN], rows[TRAIN:]


def sigmoid(z):
    z = max(-30.0, min(30.0, z))
    return 1.0 / (1.0 + math.exp(-z))


class Mlp:
    def __init__(self, rng):
        scale = 1.0 / math.sqrt(INPUTS)
        # Parameters in one flat list: hidden weights (row by row), hidden
        # biases, output weights, output bias.
        self.p = [rng.gauss(0.0, scale) for _ in range(HIDDEN * INPUTS)]
        self.p += [0.0] * HIDDEN
        self.p += [rng.gauss(0.0, 1.0 / math.sqrt(HIDDEN)) for _ in range(HIDDEN)]
        self.p += [0.0]

    def forward(self, x):
        p = self.p
        hidden = []
        for j in range(HIDDEN):
            base = j * INPUTS
            z = p[HIDDEN * INPUTS + j]
            for i in range(INPUTS):
                z += p[base + i] * x[i]
            hidden.append(math.tanh(z))
        out = HIDDEN * INPUTS + HIDDEN
        z = p[-1]
        for j in range(HIDDEN):
            z += p[out + j] * hidden[j]
        return hidden, sigmoid(z)

    def gradient(self, batch):
        """The mean log-loss gradient over `batch`."""
        p = self.p
        g = [0.0] * len(p)
        out = HIDDEN * INPUTS + HIDDEN
        for x, y in batch:
            hidden, q = self.forward(x)
            d = q - y  # d loss / d output logit
            g[-1] += d
            for j in range(HIDDEN):
                g[out + j] += d * hidden[j]
                dh = d * p[out + j] * (1.0 - hidden[j] * hidden[j])
                g[HIDDEN * INPUTS + j] += dh
                base = j * INPUTS
                for i in range(INPUTS):
                    g[base + i] += dh * x[i]
        n = float(len(batch))
        return [v / n for v in g]

    def evaluate(self, rows):
        loss, correct = 0.0, 0
        for x, y in rows:
            _, q = self.forward(x)
            q = min(max(q, 1e-12), 1.0 - 1e-12)
            loss -= y * math.log(q) + (1.0 - y) * math.log(1.0 - q)
            correct += (q > 0.5) == (y > 0.5)
        return loss / len(rows), correct / len(rows)


def main():
    params = json.loads(os.environ["HYPERSWEEP_PARAMS"])
    lr = float(params["lr"])
    batch_size = int(params["batch_size"])
    optimizer = params["optimizer"]
    momentum = float(params.get("momentum", 0.0))
    epochs = int(params.get("epochs", 20))
    seed = int(os.environ.get("HYPERSWEEP_SEED", os.environ.get("HYPERSWEEP_TRIAL", "0")))

    train, validation = data_set()
    rng = random.Random(seed)
    model = Mlp(rng)
    velocity = [0.0] * len(model.p)  # SGD's momentum buffer, Adam's first moment
    second = [0.0] * len(model.p)  # Adam's second moment
    beta1, beta2, eps, t = 0.9, 0.999, 1e-8, 0
    order = list(range(len(train)))
    for epoch in range(1, epochs + 1):
        rng.shuffle(order)
        for start in range(0, len(order), batch_size):
            g = model.gradient([train[i] for i in order[start:start + batch_size]])
            p = model.p
            if optimizer == "adam":
                t += 1
                c1, c2 = 1.0 - beta1 ** t, 1.0 - beta2 ** t
                for k, gk in enumerate(g):
                    velocity[k] = beta1 * velocity[k] + (1.0 - beta1) * gk
                    second[k] = beta2 * second[k] + (1.0 - beta2) * gk * gk
                    p[k] -= lr * (velocity[k] / c1) / (math.sqrt(second[k] / c2) + eps)
            else:
                for k, gk in enumerate(g):
                    velocity[k] = momentum * velocity[k] - lr * gk
                    p[k] += velocity[k]
        val_loss, val_accuracy = model.evaluate(validation)
        if not all(math.isfinite(v) for v in model.p) or not math.isfinite(val_loss):
            sys.exit(f"diverged at epoch {epoch}: the weights are no longer finite (lr {lr})")
        print(json.dumps({"epoch": epoch, "val_loss": val_loss, "val_accuracy": val_accuracy}),
              flush=True)


if __name__ == "__main__":
    main()
