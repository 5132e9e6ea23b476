"""Writes the TorchScript test networks, their JSON sidecars and reference values for the pretrained-network losses.

Run once with Debian's python3 (torch 1.13): `python3 make_networks.py` in this directory. Outputs:
  features.pt / features.json / features-lin.safetensors  a 3-stage conv feature net (tuple of 3 relu maps, with a
                                                          dropout that only eval mode switches off) + LPIPS-style lins
  teacher.pt / teacher.json                               a one-block ViT with a CLS token, returning (cls, tokens)
  reference.safetensors                                   inputs and torch's values and gradients (computed in float64)
Weights are random (fixed seed); the values only have to agree between torch and Java.
"""
import json
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(1234)
rng = np.random.default_rng(1234)

# ---------------------------------------------------------------- networks


class Features(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.c3 = nn.Conv2d(16, 16, 3, stride=2, padding=1)
        self.drop = nn.Dropout(0.5)
        # positive biases keep every feature vector away from zero (LPIPS's normalisation has no useful gradient there)
        for c in (self.c1, self.c2, self.c3):
            nn.init.uniform_(c.bias, 0.2, 0.6)

    def forward(self, x):
        a = F.relu(self.c1(x))
        b = F.relu(self.c2(self.drop(a)))
        c = F.relu(self.c3(b))
        return a, b, c


class Teacher(nn.Module):
    """patch-embed conv, CLS token, learned position embedding, one pre-norm transformer block, final LayerNorm."""

    def __init__(self, dim=24, heads=2, patch=8, grid=4):
        super().__init__()
        self.heads = heads
        self.patch = nn.Conv2d(3, dim, patch, stride=patch)
        self.cls = nn.Parameter(torch.randn(1, 1, dim) * 0.5)
        self.pos = nn.Parameter(torch.randn(1, grid * grid + 1, dim) * 0.5)
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, 2 * dim)
        self.fc2 = nn.Linear(2 * dim, dim)
        self.norm = nn.LayerNorm(dim)
        self.drop = nn.Dropout(0.5)
        for ln in (self.norm1, self.norm2, self.norm):
            nn.init.uniform_(ln.weight, 0.5, 1.5)
            nn.init.uniform_(ln.bias, -0.3, 0.3)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)  # [B, N, D]
        b, n, d = x.shape
        x = torch.cat([self.cls.expand(b, -1, -1), x], dim=1) + self.pos
        h = self.norm1(x)
        qkv = self.qkv(h).reshape(b, n + 1, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = torch.softmax(q @ k.transpose(-2, -1) / (d // self.heads) ** 0.5, dim=-1)
        x = x + self.drop(self.proj((att @ v).transpose(1, 2).reshape(b, n + 1, d)))
        x = x + self.fc2(F.gelu(self.fc1(self.norm2(x))))
        x = self.norm(x)
        return x[:, 0], x


# ---------------------------------------------------------------- safetensors by hand


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr, dtype="<f4")
        raw = arr.tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


# ---------------------------------------------------------------- references (float64 copies of the float32 nets)

LPIPS_SHIFT = [-0.030, -0.088, -0.188]
LPIPS_SCALE = [0.458, 0.448, 0.450]
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def shift_scale(x, shift, scale):
    return (x - torch.tensor(shift, dtype=x.dtype)[None, :, None, None]) / torch.tensor(scale, dtype=x.dtype)[None, :, None, None]


def mean_std(x, mean, std):
    return shift_scale((x + 1) / 2, mean, std)


def normalize_tensor(x, eps=1e-10):
    return x / (torch.sqrt(torch.sum(x ** 2, dim=1, keepdim=True)) + eps)


def lpips_like(net, real, fake, prep, resize, lins, layer_weights):
    a, b = prep(real), prep(fake)
    if resize:
        a = F.interpolate(a, size=(resize, resize), mode="bilinear", align_corners=False)
        b = F.interpolate(b, size=(resize, resize), mode="bilinear", align_corners=False)
    total = 0
    for i, (u, v) in enumerate(zip(net(a), net(b))):
        d = (normalize_tensor(u) - normalize_tensor(v)) ** 2
        r = F.conv2d(d, lins[i]) if lins is not None else d.sum(1, keepdim=True)
        total = total + layer_weights[i] * r.mean([2, 3], keepdim=True)
    return total.mean()


def loss_and_grad(fn, fake):
    fake = fake.clone().requires_grad_(True)
    loss = fn(fake)
    loss.backward()
    return loss.detach(), fake.grad


def f32(t):
    return t.detach().to(torch.float32).numpy()


features = Features().eval()
teacher = Teacher().eval()
lins = [torch.randn(1, c, 1, 1).abs() * 0.3 for c in (8, 16, 16)]  # LPIPS lins are non-negative

# saved in training mode, so matching the eval-mode references shows the loader switched the dropouts off
torch.jit.script(features.train()).save("features.pt")
torch.jit.script(teacher.train()).save("teacher.pt")
features.eval()
teacher.eval()
write_safetensors("features-lin.safetensors", {f"lin{i}.model.1.weight": w.numpy() for i, w in enumerate(lins)})
with open("features.json", "w") as f:
    json.dump({"kind": "perceptual", "input": {"shift": LPIPS_SHIFT, "scale": LPIPS_SCALE},
               "lin_weights": "features-lin.safetensors"}, f, indent=2)
with open("teacher.json", "w") as f:
    json.dump({"kind": "teacher", "input": {"mean": IMAGENET_MEAN, "std": IMAGENET_STD},
               "prefix_tokens": 1, "output_index": 1, "dim": 24}, f, indent=2)

features64 = Features().eval()
features64.load_state_dict(features.state_dict())
features64.double()
teacher64 = Teacher().eval()
teacher64.load_state_dict(teacher.state_dict())
teacher64.double()
lins64 = [w.double() for w in lins]

ref = {}
real = torch.from_numpy(rng.uniform(-1, 1, (2, 3, 32, 32))).float()
fake = (real + 0.3 * torch.from_numpy(rng.standard_normal((2, 3, 32, 32))).float()).clamp(-1, 1)
ref["perceptual.real"], ref["perceptual.fake"] = real.numpy(), fake.numpy()

# case A: the sidecar's configuration (LPIPS shift/scale, lin weights, no resize)
loss, grad = loss_and_grad(lambda x: lpips_like(features64, real.double(), x,
                                               lambda t: shift_scale(t, LPIPS_SHIFT, LPIPS_SCALE), None, lins64, [1, 1, 1]),
                           fake.double())
ref["perceptual.lin.loss"], ref["perceptual.lin.grad"] = f32(loss).reshape(1), f32(grad)

# case B: mean/std input, scalar layer weights, resize to 24
LAYER_WEIGHTS = [0.5, 1.0, 2.0]
loss, grad = loss_and_grad(lambda x: lpips_like(features64, real.double(), x,
                                               lambda t: mean_std(t, IMAGENET_MEAN, IMAGENET_STD), 24, None, LAYER_WEIGHTS),
                           fake.double())
ref["perceptual.scalar.loss"], ref["perceptual.scalar.grad"] = f32(loss).reshape(1), f32(grad)

# the feature net alone, on the real image as given (no input transform)
for i, fmap in enumerate(features64(real.double())):
    ref[f"features.out{i}"] = f32(fmap)

# teacher: targets at the native size, and from 48 px images resized to 32
with torch.no_grad():
    img32 = torch.from_numpy(rng.uniform(-1, 1, (2, 3, 32, 32))).float()
    img48 = torch.from_numpy(rng.uniform(-1, 1, (2, 3, 48, 48))).float()
    ref["teacher.images32"], ref["teacher.images48"] = img32.numpy(), img48.numpy()
    ref["teacher.targets32"] = f32(teacher64(mean_std(img32.double(), IMAGENET_MEAN, IMAGENET_STD))[1][:, 1:])
    x = F.interpolate(mean_std(img48.double(), IMAGENET_MEAN, IMAGENET_STD), size=(32, 32), mode="bilinear", align_corners=False)
    ref["teacher.targets48"] = f32(teacher64(x)[1][:, 1:])

# negative cosine over masked tokens, exactly as MaskAEModel.forward (aux_loss_mask=True)
target = torch.from_numpy(ref["teacher.targets32"]).double()
pred = torch.from_numpy(rng.standard_normal((2, 16, 24))).float()
mask = torch.from_numpy((rng.uniform(size=(2, 16)) < 0.5).astype(np.float32))
ref["cosine.pred"], ref["cosine.mask"] = pred.numpy(), mask.numpy()


def negative_cosine(p):
    z, d = F.normalize(target, dim=-1), F.normalize(p, dim=-1)
    loss = -(d * z).sum(dim=-1, keepdim=True)
    return (loss * mask.double()[..., None]).sum() / mask.sum()


loss, grad = loss_and_grad(negative_cosine, pred.double())
ref["cosine.loss"], ref["cosine.grad"] = f32(loss).reshape(1), f32(grad)

write_safetensors("reference.safetensors", ref)
for k, v in ref.items():
    print(k, v.shape, float(np.abs(v).max()))
