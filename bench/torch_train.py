#!/usr/bin/env python3
"""PyTorch's side of kiln-bench-train: the textbook's training programs
(docs/textbook.md §2 and §6), timed like kiln's examples (examples/support/Training.h).

  torch_train.py linreg [--steps 1000] [--lr 0.01]
  torch_train.py mnist --data DIR [--model linear|mlp] [--loader dataloader|index]
                       [--epochs 5] [--lr 1e-4] [--batch 100] [--hidden 128]
  common: [--threads 1] [--seed 0]

Prints one JSON object. Times, as kiln measures them:
  us_per_step    mean wall time of a step after the first two (the loop's
                 time from the end of step 2 to the end of the last step),
                 batch fetching included;
  first_step_ms  wall time of the first step (batch, forward, backward, step);
  train_seconds  wall time of the whole loop.
Each step reads its loss with loss.item(), as kiln's examples record it.
--loader dataloader is the seed's program: a Dataset returning one image at a
time as ToTensor does ([1, 28, 28] float in [0, 1]) and torch's DataLoader
(shuffle=True, num_workers=0). --loader index keeps the u8 images in one
preloaded tensor and batches by indexing with a per-epoch randperm,
converting each batch to float / 255 (as kiln's DataLoader does).
Exits 3 when torch is not installed.
"""
import argparse
import gzip
import json
import os
import struct
import sys
import time

try:
    import torch
    from torch import nn
except ImportError:
    sys.exit(3)


def peak_rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def read_idx(directory, stem, magic, dims):
    """One IDX file (raw or .gz) as a u8 tensor of `dims` dimensions."""
    path = os.path.join(directory, stem)
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    header = 4 + 4 * dims
    if len(data) < header or struct.unpack(">I", data[:4])[0] != magic:
        raise SystemExit(f"torch_train.py: {path}: not an IDX file")
    shape = struct.unpack(">" + "I" * dims, data[4:header])
    count = 1
    for d in shape:
        count *= d
    if len(data) != header + count:
        raise SystemExit(f"torch_train.py: {path}: size does not match its header")
    return torch.frombuffer(bytearray(data[header:]), dtype=torch.uint8).view(*shape)


def load_split(directory, prefix):
    images = read_idx(directory, f"{prefix}-images-idx3-ubyte", 0x803, 3)
    labels = read_idx(directory, f"{prefix}-labels-idx1-ubyte", 0x801, 1)
    return images, labels.long()


class ImageDataset(torch.utils.data.Dataset):
    """Like torchvision's MNIST with ToTensor: one [1, 28, 28] float image."""

    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.images[i].unsqueeze(0).float().div(255), self.labels[i]


def dataloader_batches(images, labels, batch, generator):
    loader = torch.utils.data.DataLoader(
        ImageDataset(images, labels), batch_size=batch, shuffle=True, generator=generator
    )
    for x, y in loader:
        yield x.view(x.shape[0], -1), y


def index_batches(images, labels, batch, generator):
    flat = images.view(images.shape[0], -1)
    order = torch.randperm(len(labels), generator=generator)
    for begin in range(0, len(labels), batch):
        idx = order[begin : begin + batch]
        yield flat[idx].float().div_(255), labels[idx]


class StepClock:
    """Wall times of a training loop, measured like kiln's TrainingRun."""

    def __init__(self):
        self.start = time.perf_counter()
        self.steps = 0
        self.first_step_ms = 0.0
        self.warm_end = self.last = self.start

    def step_done(self):
        now = time.perf_counter()
        self.steps += 1
        if self.steps == 1:
            self.first_step_ms = 1000 * (now - self.start)
        if self.steps == 2:
            self.warm_end = now
        self.last = now

    def results(self):
        seconds = self.last - self.start
        if self.steps > 2:
            us = 1e6 * (self.last - self.warm_end) / (self.steps - 2)
        else:
            us = 1e6 * seconds / max(self.steps, 1)
        return {
            "steps": self.steps,
            "us_per_step": us,
            "first_step_ms": self.first_step_ms,
            "train_seconds": seconds,
        }


def linreg(args):
    x = torch.arange(1, 11, dtype=torch.float).view(10, 1)
    y = 3 * x + 5
    model = nn.Linear(1, 1)
    optimiser = torch.optim.SGD(model.parameters(), lr=args.lr)
    criterion = nn.MSELoss()
    clock = StepClock()
    loss_value = 0.0
    for _ in range(args.steps):
        optimiser.zero_grad()
        out = model(x)
        loss = criterion(out, y)
        loss.backward()
        optimiser.step()
        loss_value = loss.item()
        clock.step_done()
    result = {"weight": model.weight.item(), "bias": model.bias.item(), "loss": loss_value}
    result.update(clock.results())
    return result


def accuracy(model, images, labels, batch=1000):
    right = 0
    with torch.no_grad():
        for begin in range(0, len(labels), batch):
            x = images[begin : begin + batch].view(-1, 784).float().div_(255)
            right += (model(x).argmax(1) == labels[begin : begin + batch]).sum().item()
    return right / max(len(labels), 1)


def mnist(args):
    train_images, train_labels = load_split(args.data, "train")
    test_images, test_labels = load_split(args.data, "t10k")
    inputs = train_images.shape[1] * train_images.shape[2]
    if args.model == "linear":
        model = nn.Linear(inputs, 10)
    else:
        model = nn.Sequential(nn.Linear(inputs, args.hidden), nn.ReLU(), nn.Linear(args.hidden, 10))
    optimiser = torch.optim.SGD(model.parameters(), lr=args.lr)
    criterion = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(args.seed)
    batches = dataloader_batches if args.loader == "dataloader" else index_batches
    clock = StepClock()
    epoch_losses = []
    for _ in range(args.epochs):
        total, count = 0.0, 0
        for x, y in batches(train_images, train_labels, args.batch, generator):
            optimiser.zero_grad()
            out = model(x)
            loss = criterion(out, y)
            loss.backward()
            optimiser.step()
            total += loss.item()
            count += 1
            clock.step_done()
        epoch_losses.append(total / max(count, 1))
    result = {"model": args.model, "loader": args.loader, "epoch_losses": epoch_losses}
    result.update(clock.results())
    result["test_accuracy"] = accuracy(model, test_images, test_labels)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("program", choices=["linreg", "mnist"])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--data")
    parser.add_argument("--model", choices=["linear", "mlp"], default="linear")
    parser.add_argument("--loader", choices=["dataloader", "index"], default="dataloader")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.program == "linreg":
        args.lr = 0.01 if args.lr is None else args.lr
        result = linreg(args)
    else:
        if not args.data:
            parser.error("mnist needs --data DIR")
        args.lr = 1e-4 if args.lr is None else args.lr
        result = mnist(args)
    result["peak_rss_mb"] = peak_rss_mb()
    result["torch"] = torch.__version__
    result["threads"] = torch.get_num_threads()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
