"""Reference values for VmaeObjectiveTest: the VMAE training loss and gradients, computed by torch in float64.

Run once with Debian's python3 (torch 1.13, no timm): `/usr/bin/python3 make_vmae_train.py` in this directory.
It re-implements `MaskedAutoencoderViT.forward_vanilla` + `forward_loss` of isno0907/ldmae (VMAE/models_mae.py,
HEAD a5e92a8) for the `fixtures/vmae-small` model, with `random_masking`'s noise, the posterior's eps and the
denoising noise given instead of drawn, so that Java can be fed the same numbers. The perceptual term uses the
test feature network `torchscript/features.pt` with its LPIPS-style lin weights (the same formula as
`torchscript/make_networks.py`).

Output `vmae-train.safetensors` (float32):
  images [2,3,32,32], mask_token [1,1,48] (the fixture has none: drawn here, larger than N(0, 0.02) so it matters)
  {case}.mask_noise [2,16], {case}.eps [2,K,4], {case}.input_noise [2,3,32,32] where the case uses them
  {case}.loss, {case}.vis_loss, {case}.mask_loss, {case}.kl_loss, {case}.p_loss  (scalars as [1]; absent if unused)
  {case}.grad.{key}  gradients of the total loss
Cases: "vmae" (stage-1 recipe), "vae" (standard KL, norm_pix_loss, denoising noise), "plain" (no masking).
"""
import json
import struct

import numpy as np
import torch
import torch.nn.functional as F

HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
FIXTURE = HERE + "/../fixtures/vmae-small/model.safetensors"
FEATURES = HERE + "/../torchscript/features.pt"
LINS = HERE + "/../torchscript/features-lin.safetensors"
LPIPS_SHIFT = [-0.030, -0.088, -0.188]
LPIPS_SCALE = [0.458, 0.448, 0.450]
PATCH, DEPTH, HEADS, LATENT = 8, 2, 3, 4


def read_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", name
        a, b = info["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(raw[8 + n + a:8 + n + b], dtype="<f4").reshape(info["shape"]).copy())
    return out


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, arr in tensors.items():
        raw = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(np.shape(arr)), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


# ---------------------------------------------------------------- the model (reference graph, functional)


def layer_norm(x, W, key):
    return F.layer_norm(x, x.shape[-1:], W[key + ".weight"], W[key + ".bias"], eps=1e-6)


def linear(x, W, key):
    return F.linear(x, W[key + ".weight"], W[key + ".bias"])


def block(x, W, key):
    """VMAE/models_mae.py Block + Attention (qkv bias, no LayerScale, exact GELU)."""
    B, N, C = x.shape
    h = layer_norm(x, W, key + ".norm1")
    qkv = linear(h, W, key + ".attn.qkv").reshape(B, N, 3, HEADS, C // HEADS).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.unbind(0)
    attn = ((q @ k.transpose(-2, -1)) * (C // HEADS) ** -0.5).softmax(dim=-1)
    x = x + linear((attn @ v).transpose(1, 2).reshape(B, N, C), W, key + ".attn.proj")
    h = layer_norm(x, W, key + ".norm2")
    return x + linear(F.gelu(linear(h, W, key + ".mlp.fc1")), W, key + ".mlp.fc2")


def patchify(imgs):
    h = w = imgs.shape[2] // PATCH
    x = imgs.reshape(imgs.shape[0], 3, h, PATCH, w, PATCH)
    return torch.einsum("nchpwq->nhwpqc", x).reshape(imgs.shape[0], h * w, PATCH ** 2 * 3)


def unpatchify(x):
    h = w = int(x.shape[1] ** 0.5)
    x = torch.einsum("nhwpqc->nchpwq", x.reshape(x.shape[0], h, w, PATCH, PATCH, 3))
    return x.reshape(x.shape[0], 3, h * PATCH, w * PATCH)


def decoder_pred(x, W):
    """conv_decoder_pred with smooth_output, pred_with_conv=False: linear, unpatchify, 3x3 conv, re-patchify."""
    x = linear(x, W, "decoder_pred.linear_pred")
    img = F.conv2d(unpatchify(x), W["decoder_pred.conv_smoother.weight"], W["decoder_pred.conv_smoother.bias"], padding=1)
    return patchify(img)


def random_masking(x, mask_ratio, noise):
    """random_masking with the noise given."""
    N, L, D = x.shape
    len_keep = int(L * (1 - mask_ratio))
    ids_shuffle = torch.argsort(noise, dim=1)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    ids_keep = ids_shuffle[:, :len_keep]
    x_masked = torch.gather(x, dim=1, index=ids_keep.unsqueeze(-1).repeat(1, 1, D))
    mask = torch.ones([N, L], dtype=x.dtype)
    mask[:, :len_keep] = 0
    mask = torch.gather(mask, dim=1, index=ids_restore)
    return x_masked, mask, ids_restore


def lpips_like(net, lins, real, fake):
    def prep(t):
        return (t - torch.tensor(LPIPS_SHIFT, dtype=t.dtype)[None, :, None, None]) / torch.tensor(LPIPS_SCALE, dtype=t.dtype)[None, :, None, None]

    def normalize(t):
        return t / (torch.sqrt(torch.sum(t ** 2, dim=1, keepdim=True)) + 1e-10)

    total = 0
    for i, (u, v) in enumerate(zip(net(prep(real)), net(prep(fake)))):
        total = total + F.conv2d((normalize(u) - normalize(v)) ** 2, lins[i]).mean([2, 3], keepdim=True)
    return total.mean()


class Features(torch.nn.Module):
    """The architecture of torchscript/features.pt in eval mode (make_networks.py's Features)."""

    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.c2 = torch.nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.c3 = torch.nn.Conv2d(16, 16, 3, stride=2, padding=1)

    def forward(self, x):
        a = F.relu(self.c1(x))
        b = F.relu(self.c2(a))
        return a, b, F.relu(self.c3(b))


def forward_vanilla(W, imgs, opt, mask_noise, eps, input_noise, perceptual):
    """forward_vanilla + forward_loss; returns the total and the logged parts."""
    x_in = imgs + opt["input_noise_std"] * input_noise if input_noise is not None else imgs
    x = F.conv2d(x_in, W["patch_embed.proj.weight"], W["patch_embed.proj.bias"], stride=PATCH).flatten(2).transpose(1, 2)
    x = x + W["pos_embed"]
    L = x.shape[1]
    if mask_noise is not None:
        x, mask, ids_restore = random_masking(x, opt["mask_ratio"], mask_noise)
    for i in range(DEPTH):
        x = block(x, W, f"blocks.{i}")
    latent = linear(layer_norm(x, W, "norm"), W, "to_latent")
    B, K, _ = latent.shape

    # DiagonalGaussianDistribution on [B, 2C, K]
    params = latent.permute(0, 2, 1)
    mean, logvar = torch.chunk(params, 2, dim=1)
    logvar = torch.clamp(logvar, -30.0, 20.0)
    std, var = torch.exp(0.5 * logvar), torch.exp(logvar)
    if opt["kl_form"] == "fixed_std":  # VMAE/util/misc.py with fixed_std
        fixed_var = (torch.tensor(opt["kl_std"], dtype=torch.float32) ** 2).double()
        kl = 0.5 * torch.sum(var / fixed_var - 1.0 - logvar + torch.log(fixed_var), dim=[1, 2])
    else:  # LDMAE/tokenizer/util/misc.py: the ordinary VAE KL
        kl = 0.5 * torch.sum(torch.pow(mean, 2) + var - 1.0 - logvar, dim=[1, 2])
    kl_loss = torch.sum(kl) / kl.shape[0] / K
    z = (mean + std * eps.permute(0, 2, 1)).permute(0, 2, 1)

    x = linear(linear(z, W, "from_latent"), W, "decoder_embed")
    if mask_noise is not None:
        mask_tokens = W["mask_token"].repeat(B, L - K, 1)
        x_ = torch.cat([x, mask_tokens], dim=1)
        x = torch.gather(x_, dim=1, index=ids_restore.unsqueeze(-1).repeat(1, 1, x.shape[2]))
    x = x + W["decoder_pos_embed"]
    for i in range(DEPTH):
        x = block(x, W, f"decoder_blocks.{i}")
    pred = decoder_pred(layer_norm(x, W, "decoder_norm"), W)

    target = patchify(imgs)
    if opt["norm_pix_loss"]:
        m = target.mean(dim=-1, keepdim=True)
        v = target.var(dim=-1, keepdim=True)
        target = (target - m) / (v + 1.e-6) ** .5
    per_patch = ((pred - target) ** 2).mean(dim=-1)
    parts = {}
    if mask_noise is not None:
        vis = (per_patch * (1 - mask)).sum() / (1 - mask).sum()
        msk = (per_patch * mask).sum() / mask.sum()
        loss = (1 - opt["visible_loss_ratio"]) * msk + opt["visible_loss_ratio"] * vis
        parts["vis_loss"], parts["mask_loss"] = vis, msk
    else:  # nothing masked: the reference's masked mean is 0/0; the objective uses the plain MSE
        loss = per_patch.mean()
        parts["vis_loss"] = loss
    if opt["perceptual_weight"] > 0:
        p = lpips_like(perceptual[0], perceptual[1], imgs, unpatchify(pred))
        loss = loss + opt["perceptual_weight"] * p
        parts["p_loss"] = p
    loss = loss + opt["kl_weight"] * kl_loss
    parts["kl_loss"] = kl_loss
    parts["loss"] = loss
    return parts


CASES = {
    "vmae": dict(mask_ratio=0.25, visible_loss_ratio=0.75, norm_pix_loss=False, kl_form="fixed_std", kl_std=1e-3,
                 kl_weight=1e-6, perceptual_weight=0.5, input_noise_std=0.0),
    "vae": dict(mask_ratio=0.5, visible_loss_ratio=0.4, norm_pix_loss=True, kl_form="standard", kl_std=1.0,
                kl_weight=0.01, perceptual_weight=0.0, input_noise_std=0.1),
    "plain": dict(mask_ratio=0.0, visible_loss_ratio=0.5, norm_pix_loss=False, kl_form="fixed_std", kl_std=1.0,
                  kl_weight=0.0, perceptual_weight=2.0, input_noise_std=0.0),
}
GRADS = {
    "vmae": ["patch_embed.proj.weight", "blocks.0.attn.qkv.weight", "to_latent.weight", "to_latent.bias",
             "from_latent.weight", "mask_token", "decoder_blocks.1.mlp.fc2.bias", "decoder_pred.linear_pred.weight",
             "decoder_pred.conv_smoother.weight"],
    "vae": ["patch_embed.proj.bias", "to_latent.weight", "mask_token", "decoder_pred.conv_smoother.weight"],
    "plain": ["patch_embed.proj.bias", "to_latent.weight", "decoder_pred.linear_pred.bias", "decoder_pred.conv_smoother.weight"],
}


def main():
    rng = np.random.default_rng(20240611)
    B, N = 2, 16
    W32 = read_safetensors(FIXTURE)
    W32["mask_token"] = torch.from_numpy(rng.normal(0, 0.5, (1, 1, 48)).astype(np.float32))
    images = torch.from_numpy(rng.uniform(-1, 1, (B, 3, 32, 32)).astype(np.float32))
    out = {"images": images.numpy(), "mask_token": W32["mask_token"].numpy()}

    script = torch.jit.load(FEATURES).eval()
    net = Features()
    net.load_state_dict({k: v for k, v in script.state_dict().items()})
    net = net.double().eval()
    lins = [t.double() for _, t in sorted(read_safetensors(LINS).items())]

    for case, opt in CASES.items():
        k = int(N * (1 - opt["mask_ratio"]))
        mask_noise = rng.uniform(0, 1, (B, N)).astype(np.float32) if opt["mask_ratio"] > 0 else None
        eps = rng.normal(0, 1, (B, k, LATENT)).astype(np.float32)
        input_noise = rng.normal(0, 1, (B, 3, 32, 32)).astype(np.float32) if opt["input_noise_std"] > 0 else None
        W = {key: t.double().requires_grad_(True) for key, t in W32.items()}
        parts = forward_vanilla(W, images.double(), opt,
                                None if mask_noise is None else torch.from_numpy(mask_noise).double(),
                                torch.from_numpy(eps).double(),
                                None if input_noise is None else torch.from_numpy(input_noise).double(),
                                (net, lins))
        parts["loss"].backward()
        for name, value in [("mask_noise", mask_noise), ("eps", eps), ("input_noise", input_noise)]:
            if value is not None:
                out[f"{case}.{name}"] = value
        for name, value in parts.items():
            out[f"{case}.{name}"] = value.detach().reshape(1).numpy()
        for key in GRADS[case]:
            out[f"{case}.grad.{key}"] = W[key].grad.numpy()
        print(case, {n: float(v) for n, v in parts.items()})
    write_safetensors(HERE + "/vmae-train.safetensors", out)


if __name__ == "__main__":
    main()
