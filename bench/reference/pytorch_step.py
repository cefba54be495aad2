#!/usr/bin/env python3
"""PyTorch reference for `npm run bench:compare`: the training step polynas benchmarks
(forward, cross-entropy, backward, SGD momentum 0.9 / weight decay 5e-4 update) of the same
networks, channels-last, on the CPU. Prints one JSON line per network:
{"net", "batch", "ms": [per-step ms...], "threads", "torch"}.

    /usr/bin/python3 bench/reference/pytorch_step.py --nets resnet20,lenet5 --batch 64 --steps 10 --warmup 3 --threads 2
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.short is None else self.short(x)))


class ResNet20(nn.Module):
    """CIFAR ResNet-20 (He et al.): 3 stages of 3 basic blocks, 16/32/64 channels, projection shortcuts."""

    def __init__(self, classes=10):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        blocks, cin = [], 16
        for i, cout in enumerate([16, 32, 64]):
            for j in range(3):
                blocks.append(BasicBlock(cin, cout, 2 if (i > 0 and j == 0) else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = self.blocks(F.relu(self.bn(self.conv(x))))
        return self.fc(x.mean((2, 3)))


class LeNet5(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class MaskGate(nn.Module):
    """AutoReP's per-pixel gate: m·ReLU(x) + (1 − m)·(c2·x² + c1·x + c0) per channel; m from α_aux by
    hysteresis (t = 0.003), gradient to α_aux softplus(α_aux)·∂L/∂m (straight-through)."""

    def __init__(self, shape):
        super().__init__()
        c = shape[0]
        self.alpha = nn.Parameter(torch.rand(*shape))
        self.register_buffer("mask", torch.ones(*shape))
        self.coef = nn.Parameter(torch.tensor([0.0, 1.0, 0.0]).repeat(c, 1).t().contiguous())  # [3, C]

    def forward(self, x):
        if self.training:
            with torch.no_grad():
                t = 0.003
                self.mask.copy_(torch.where(self.mask > 0.5, (self.alpha > -t).float(), (self.alpha > t).float()))
        m = STE.apply(self.alpha, self.mask)
        view = [1, -1] + [1] * (x.dim() - 2)
        c0, c1, c2 = (self.coef[i].view(view) for i in range(3))
        return m * torch.relu(x) + (1 - m) * (c2 * x * x + c1 * x + c0)


class STE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, alpha, mask):
        ctx.save_for_backward(alpha)
        return mask.clone()

    @staticmethod
    def backward(ctx, g):
        (alpha,) = ctx.saved_tensors
        return F.softplus(alpha) * g.sum(0), None


def gated(net, shape, skip_stem):
    """A MaskGate for every F.relu of a ResNet-20 / LeNet-5 forward at the site's shape (the stem
    ReLU of ResNet-20 stays a ReLU, as in polynas' spaces)."""
    # Trace the ReLU sites' shapes with a forward on one sample.
    shapes = []
    orig = F.relu
    F.relu = lambda x, *a, **k: (shapes.append(tuple(x.shape[1:])), orig(x))[1]
    with torch.no_grad():
        net(torch.zeros(1, *shape))
    F.relu = orig
    return nn.ModuleList([MaskGate(s) for s in shapes[1 if skip_stem else 0:]])


def autorep_loss(net, gates, teacher, x, y, total, target, lam):
    orig = F.relu
    seq = ([None] if len(gates) == 18 else []) + list(gates)  # ResNet-20: the stem keeps its ReLU
    it = iter(seq)

    def site(t, *a, **k):
        g = next(it)
        return torch.relu(t) if g is None else g(t)

    F.relu = site
    try:
        logits = net(x)
    finally:
        F.relu = orig
    with torch.no_grad():
        t = teacher(x)
    kd = F.kl_div(F.log_softmax(logits / 4, 1), F.softmax(t / 4, 1), reduction="batchmean") * 16
    count = sum(g.mask.sum() for g in gates)
    return F.cross_entropy(logits, y) + kd + lam * torch.relu(count / total - target)


NETS = {"resnet20": (ResNet20, (3, 32, 32)), "lenet5": (LeNet5, (1, 28, 28))}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nets", default="resnet20,lenet5")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--kind", default="train", choices=["train", "autorep"])
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    for name in a.nets.split(","):
        cls, shape = NETS[name]
        net = cls().to(memory_format=torch.channels_last)
        x = torch.randn(a.batch, *shape).contiguous(memory_format=torch.channels_last)
        y = torch.randint(0, 10, (a.batch,))
        times = []
        if a.kind == "train":
            opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
            step = lambda: F.cross_entropy(net(x), y)
        else:
            teacher = cls().to(memory_format=torch.channels_last).eval()
            gates = gated(net, shape, name == "resnet20")
            total = sum(g.mask.numel() for g in gates)
            opt = torch.optim.Adam(list(net.parameters()) + list(gates.parameters()), lr=1e-3)
            step = lambda: autorep_loss(net, gates, teacher, x, y, total, 0.05, 5.0)
        for i in range(a.warmup + a.steps):
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss = step()
            loss.backward()
            opt.step()
            loss.item()
            if i >= a.warmup:
                times.append((time.perf_counter() - t0) * 1000)
        print(json.dumps({"engine": "pytorch", "net": name, "batch": a.batch, "kind": a.kind, "ms": times, "threads": torch.get_num_threads(), "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
