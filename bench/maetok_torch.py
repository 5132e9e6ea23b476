"""MAETok on the reference stack (torch eager, float32, CPU), to set beside maetok4j:

  curve  how fast the `cpu` preset's plain autoencoder learns: held-out PSNR every 100 steps, of the EMA and of
         the raw weights, beside `./maetok train` with the same settings;
  step   the speed of one MAETok-B-128 training step (256 px, mask modelling, MSE, AdamW, EMA), in img/s, beside
         `./maetok train configs/bench-maetok-b-128-step.yaml`;
  --check-fixture DIR  the forward pass against a MAETok parity fixture (exit 1 above 1e-4 relative error).

Usage (Debian's torch 1.13; from the repository root, after the jar is built):
    java -Dai.djl.offline=true -cp cli/target/maetok.jar bench/ExportSplit.java emoji-noto-64 32 128 0 /tmp/split
    /usr/bin/python3 bench/maetok_torch.py curve --split /tmp/split [--steps 600] [--seed 0] [--lr 1e-3] [--threads 1] [--flip]
    /usr/bin/python3 bench/maetok_torch.py step [--batch-size 4] [--iterations 4] [--threads 2]
    /usr/bin/python3 bench/maetok_torch.py --check-fixture core/src/test/resources/fixtures/maetok-rope-mixed

The model is the reference's `TimmViTEncoder`/`TimmViTDecoder` written over a state dict with the reference's keys:
encoder [CLS | image patches (masked ones replaced by mask_token) + learned APE | latent tokens], timm pre-norm
blocks (DINOv2 LayerScale when the state dict has it), RoPE-Mixed on the image tokens when it has `freqs`; decoder
[CLS? | N mask tokens (+ APE) | projected latents], plain or MoVQ blocks (affine-free norms, the latent tokens
modulated from the raw latent), linear pixel head. It reproduces all three MAETok fixtures to below 1e-6.

curve: the `cpu` preset's size (patch 8, width 128, 3 + 3 blocks, 4 heads, 16 latent tokens of 8 channels, learned
APE, plain blocks, decoder CLS) with masking and auxiliary decoders off: MSE, batch 32, AdamW (0.9, 0.95), weight
decay 1e-4 except on 1-D tensors, tokens and position tables, 50 warm-up steps from 1e-5, per-step cosine to 0.1 lr,
global-norm clipping at 1, EMA 0.99, maetok4j's initialisation rules (timm's truncated normal 0.02 for linear
layers, torch's default for the patch convolution, N(0, 0.02) tokens, N(0, 1e-6) CLS). Images come from ExportSplit
(ADM center crops), so give the Java run `random_crop: false` (and `random_flip: false` unless --flip).
"""
import argparse
import json
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from vmae_torch import read_safetensors  # this folder is on sys.path when a script in it runs


# ---- the model ----------------------------------------------------------------------------------------------

def rope_tables(sd, pre, heads, grid):
    """RoPE-Mixed angles [depth, heads, N, half]: tx*Fx + ty*Fy per layer and head, or None without `freqs`."""
    if pre + "freqs" not in sd:
        return None
    freqs = sd[pre + "freqs"]  # [2, depth, heads*half]
    depth, width = freqs.shape[1], freqs.shape[2]
    if sd[pre + "freqs_t_x"].shape[0] == grid * grid:
        tx, ty = sd[pre + "freqs_t_x"], sd[pre + "freqs_t_y"]
    else:
        idx = torch.arange(grid * grid, dtype=torch.float32)
        tx, ty = idx % grid, torch.div(idx, grid, rounding_mode="floor")
    angles = tx[None, :, None] * freqs[0][:, None, :] + ty[None, :, None] * freqs[1][:, None, :]  # [depth, N, width]
    return angles.reshape(depth, grid * grid, heads, width // heads).permute(0, 2, 1, 3)


def rotate(x, angles, start):
    """Rotates the pairs (2j, 2j+1) of x [B, H, T, hd] at tokens start..start+N by angles [H, N, hd/2]."""
    n = angles.shape[1]
    img = x[:, :, start:start + n]
    even, odd = img[..., 0::2], img[..., 1::2]
    cos, sin = angles.cos(), angles.sin()
    rot = torch.stack([even * cos - odd * sin, even * sin + odd * cos], -1).flatten(-2)
    return torch.cat([x[:, :, :start], rot, x[:, :, start + n:]], 2)


def block(x, sd, pre, heads, angles, start, zq, latents):
    """timm's pre-norm block (LayerScale if present), or MoVQBlockv2 when the block has adaLN_modulation."""
    B, T, D = x.shape
    movq = pre + "adaLN_modulation.1.weight" in sd
    if movq:
        mod = F.linear(F.silu(zq), sd[pre + "adaLN_modulation.1.weight"], sd[pre + "adaLN_modulation.1.bias"])
        shift1, scale1, shift2, scale2 = mod.chunk(4, -1)

    def norm(y, which, shift=None, scale=None):
        if not movq:
            return F.layer_norm(y, (D,), sd[pre + which + ".weight"], sd[pre + which + ".bias"], 1e-6)
        y = F.layer_norm(y, (D,), None, None, 1e-6)
        return torch.cat([y[:, :T - latents], y[:, T - latents:] * scale + shift], 1)

    h = norm(x, "norm1", *((shift1, scale1) if movq else ()))
    q, k, v = F.linear(h, sd[pre + "attn.qkv.weight"], sd[pre + "attn.qkv.bias"]).reshape(B, T, 3, heads, D // heads).permute(2, 0, 3, 1, 4)
    if angles is not None:
        q, k = rotate(q, angles, start), rotate(k, angles, start)
    h = (((q * (D // heads) ** -0.5) @ k.transpose(-2, -1)).softmax(-1) @ v).transpose(1, 2).reshape(B, T, D)
    h = F.linear(h, sd[pre + "attn.proj.weight"], sd[pre + "attn.proj.bias"])
    x = x + (h * sd[pre + "ls1.gamma"] if pre + "ls1.gamma" in sd else h)
    h = norm(x, "norm2", *((shift2, scale2) if movq else ()))
    h = F.linear(F.gelu(F.linear(h, sd[pre + "mlp.fc1.weight"], sd[pre + "mlp.fc1.bias"])), sd[pre + "mlp.fc2.weight"], sd[pre + "mlp.fc2.bias"])
    return x + (h * sd[pre + "ls2.gamma"] if pre + "ls2.gamma" in sd else h)


def run_blocks(x, sd, pre, part, grid, start, zq, latents):
    angles = rope_tables(sd, pre, part["heads"], grid)
    for i in range(part["depth"]):
        x = block(x, sd, f"{pre}model.blocks.{i}.", part["heads"], None if angles is None else angles[i], start, zq, latents)
    D = x.shape[-1]
    if pre + "model.norm.weight" in sd:
        return F.layer_norm(x, (D,), sd[pre + "model.norm.weight"], sd[pre + "model.norm.bias"], 1e-6)
    return F.layer_norm(x, (D,), None, None, 1e-6)  # MoVQNorm: its modulation never reaches the image tokens


def encode(x, sd, cfg, mask=None):
    """Images [B, 3, S, S] (mask [B, N], 1 = masked) -> latents [B, L, C]."""
    p = cfg["patch"]
    t = F.conv2d(x, sd["encoder.model.patch_embed.proj.weight"], sd["encoder.model.patch_embed.proj.bias"], stride=p)
    B, grid = t.shape[0], t.shape[-1]
    t = t.flatten(2).transpose(1, 2)  # [B, N, D]
    if mask is not None:
        t = torch.where(mask[..., None].bool(), sd["encoder.mask_token"].expand_as(t), t)
    t = torch.cat([sd["encoder.model.cls_token"].expand(B, -1, -1), t], 1) + sd["encoder.model.pos_embed"]  # the encoder's APE is always on
    t = torch.cat([t, (sd["encoder.latent_tokens"] + sd["encoder.latent_pos_embed"]).expand(B, -1, -1)], 1)
    L = sd["encoder.latent_tokens"].shape[1]
    h = run_blocks(t, sd, "encoder.", cfg["encoder"], grid, 1, None, L)[:, -L:]
    return F.linear(h, sd["quant_conv.weight"], sd["quant_conv.bias"])


def decode(z, sd, cfg, pre="decoder.", post="post_quant_conv", head="decoder.to_pixel.model"):
    """Latents [B, L, C] -> images [B, 3, S, S] (or, for an auxiliary decoder, per-token predictions [B, N, K])."""
    B, L, p = z.shape[0], z.shape[1], cfg["patch"]
    grid = cfg["image_size"] // p
    n = grid * grid
    t = sd[pre + "mask_token"].expand(B, n, -1)
    cls = pre + "model.cls_token" in sd
    if cls:
        t = torch.cat([sd[pre + "model.cls_token"].expand(B, -1, -1), t], 1)
    if cfg["use_ape"]:
        t = t + sd[pre + "model.pos_embed"]
    t = torch.cat([t, F.linear(z, sd[post + ".weight"], sd[post + ".bias"]) + sd[pre + "latent_pos_embed"]], 1)
    start = 1 if cls else 0
    part = cfg["decoder"] if pre == "decoder." else cfg["aux"]
    t = run_blocks(t, sd, pre, part, grid, start, z, L)[:, start:start + n]
    t = F.linear(t, sd[head + ".weight"], sd[head + ".bias"])
    if pre != "decoder.":
        return t
    return t.reshape(B, grid, grid, p, p, 3).permute(0, 5, 1, 3, 2, 4).reshape(B, 3, grid * p, grid * p)


def fixture_cfg(c):
    def part(d):
        return dict(depth=d["depth"], heads=d["num_heads"])
    cfg = dict(patch=c["enc_patch_size"], image_size=c["image_size"], use_ape=c["use_ape"],
               encoder=part(c["encoder_dims"]), decoder=part(c["decoder_dims"]))
    if "aux_decoder_dims" in c:
        cfg["aux"] = part(c["aux_decoder_dims"])
    return cfg


def check_fixture(folder):
    cfg = fixture_cfg(json.load(open(folder + "/config.json")))
    sd = read_safetensors(folder + "/model.safetensors")
    io = read_safetensors(folder + "/io.safetensors")
    got = {"latents": encode(io["images"], sd, cfg), "latents_masked": encode(io["images"], sd, cfg, io["mask"]),
           "reconstructions": decode(io["latents"], sd, cfg)}
    if "aux_hog_pred" in io:
        got["aux_hog_pred"] = decode(io["latents"], sd, cfg, "decoder_hog.", "post_quant_conv_hog", "to_pixel_hog")
    worst = 0.0
    for name, value in got.items():
        err = ((value - io[name]).norm() / io[name].norm()).item()
        print(f"{name}: relative error {err:.2e}")
        worst = max(worst, err)
    return worst <= 1e-4


# ---- training -----------------------------------------------------------------------------------------------

def init_state(cfg, gen, latents, channels, rope_mixed=False, layer_scale=None, movq_decoder=False, mask_token=True):
    """Fresh weights under maetok4j's initialisation rules, keyed as the reference's state dict."""
    p, S = cfg["patch"], cfg["image_size"]
    n = (S // p) ** 2

    def normal(*shape, std):
        return torch.randn(*shape, generator=gen) * std

    def tn(*shape, std=0.02):
        # timm truncates at +-2 absolute: about 100 standard deviations of 0.02, so never reached
        return normal(*shape, std=std)

    def linear(key, fan_in, fan_out, zero=False):
        sd[key + ".weight"] = torch.zeros(fan_out, fan_in) if zero else tn(fan_out, fan_in)
        sd[key + ".bias"] = torch.zeros(fan_out)

    sd = {}
    for pre, part in (("encoder.", cfg["encoder"]), ("decoder.", cfg["decoder"])):
        D, heads, depth = part["width"], part["heads"], part["depth"]
        movq = movq_decoder and pre == "decoder."
        bound = 1 / math.sqrt(3 * p * p)
        sd[pre + "model.patch_embed.proj.weight"] = (torch.rand(D, 3, p, p, generator=gen) * 2 - 1) * bound
        sd[pre + "model.patch_embed.proj.bias"] = (torch.rand(D, generator=gen) * 2 - 1) * bound
        if pre == "encoder." or not movq:
            sd[pre + "model.cls_token"] = normal(1, 1, D, std=1e-6)
        sd[pre + "model.pos_embed"] = tn(1, n + 1, D)
        sd[pre + "latent_pos_embed"] = tn(1, latents, D)
        if rope_mixed:
            half = D // heads // 2
            mags = 1.0 / cfg["rope_theta"] ** (torch.arange(0, half // 2, dtype=torch.float32) * 4 / (D // heads))
            alpha = torch.rand(depth, heads, 1, generator=gen) * 2 * math.pi
            fx = torch.cat([mags * torch.cos(alpha), mags * torch.cos(alpha + math.pi / 2)], -1)
            fy = torch.cat([mags * torch.sin(alpha), mags * torch.sin(alpha + math.pi / 2)], -1)
            sd[pre + "freqs"] = torch.stack([fx.reshape(depth, -1), fy.reshape(depth, -1)])
            idx = torch.arange(n, dtype=torch.float32)
            sd[pre + "freqs_t_x"], sd[pre + "freqs_t_y"] = idx % (S // p), torch.div(idx, S // p, rounding_mode="floor")
        for i in range(depth):
            b = f"{pre}model.blocks.{i}."
            if movq:
                linear(b + "adaLN_modulation.1", channels, 4 * D, zero=True)
            else:
                sd[b + "norm1.weight"], sd[b + "norm1.bias"] = torch.ones(D), torch.zeros(D)
                sd[b + "norm2.weight"], sd[b + "norm2.bias"] = torch.ones(D), torch.zeros(D)
                if layer_scale is not None:
                    sd[b + "ls1.gamma"], sd[b + "ls2.gamma"] = torch.full((D,), layer_scale), torch.full((D,), layer_scale)
            linear(b + "attn.qkv", D, 3 * D)
            linear(b + "attn.proj", D, D)
            linear(b + "mlp.fc1", D, 4 * D)
            linear(b + "mlp.fc2", 4 * D, D)
        if movq:
            linear(pre + "model.norm.adaLN_modulation.1", channels, 2 * D, zero=True)
        else:
            sd[pre + "model.norm.weight"], sd[pre + "model.norm.bias"] = torch.ones(D), torch.zeros(D)
    sd["encoder.latent_tokens"] = normal(1, latents, cfg["encoder"]["width"], std=0.02)
    sd["decoder.mask_token"] = normal(1, 1, cfg["decoder"]["width"], std=0.02)
    linear("quant_conv", cfg["encoder"]["width"], channels)
    linear("post_quant_conv", channels, cfg["decoder"]["width"])
    linear("decoder.to_pixel.model", cfg["decoder"]["width"], 3 * p * p)
    if mask_token:  # only a masking encoder has one
        sd["encoder.mask_token"] = normal(1, 1, cfg["encoder"]["width"], std=0.02)
    return {k: v.requires_grad_() for k, v in sd.items() if "freqs_t_" not in k} | \
        {k: v for k, v in sd.items() if "freqs_t_" in k}


def adamw(sd, lr):
    """AdamW (0.9, 0.95) with weight decay 1e-4 on matrices and kernels, none on 1-D tensors, tokens, positions, freqs."""
    trained = {k: v for k, v in sd.items() if v.requires_grad}
    no_decay = lambda k: trained[k].ndim < 2 or "token" in k or "pos_embed" in k or k.endswith("freqs")
    return torch.optim.AdamW([{"params": [v for k, v in trained.items() if not no_decay(k)], "weight_decay": 1e-4},
                              {"params": [v for k, v in trained.items() if no_decay(k)], "weight_decay": 0.0}],
                             lr=lr, betas=(0.9, 0.95)), list(trained.values())


def update(opt, params, loss, sd, ema, decay):
    """One optimiser step with global-norm clipping at 1, then ema = decay*ema + (1-decay)*weights."""
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    with torch.no_grad():
        for k, v in ema.items():
            v.mul_(decay).add_(sd[k], alpha=1 - decay)


def psnr(sd, cfg, images):
    """Mean PSNR of 8-bit reconstructions against the images, data range 1 (the evaluation protocol)."""
    with torch.no_grad():
        r = ((decode(encode(images, sd, cfg), sd, cfg).clamp(-1, 1) + 1) * 127.5).round() / 255
        mse = ((r - (images + 1) / 2) ** 2).flatten(1).mean(1)
        return (10 * torch.log10(1 / mse)).mean().item()


def curve(a):
    torch.set_num_threads(a.threads)
    gen = torch.Generator().manual_seed(a.seed)
    part = dict(width=128, depth=3, heads=4)
    cfg = dict(patch=8, image_size=32, use_ape=True, encoder=part, decoder=part)
    train = read_safetensors(a.split + "/train.safetensors")["images"]
    val = read_safetensors(a.split + "/val.safetensors")["images"]
    sd = init_state(cfg, gen, latents=16, channels=8, mask_token=False)
    ema = {k: v.detach().clone() for k, v in sd.items()}
    opt, params = adamw(sd, a.lr)

    def lr_at(i):
        if i < 50:
            return 1e-5 + (a.lr - 1e-5) * i / 50
        return 0.1 * a.lr + 0.45 * a.lr * (1 + math.cos(math.pi * (i - 50) / (a.steps - 50)))

    perm, pos, t0 = torch.randperm(len(train), generator=gen), 0, time.time()
    for i in range(a.steps):
        if pos + 32 > len(train):
            perm, pos = torch.randperm(len(train), generator=gen), 0
        x = train[perm[pos:pos + 32]]
        pos += 32
        if a.flip:
            x = torch.where((torch.rand(32, generator=gen) < 0.5)[:, None, None, None], x.flip(3), x)
        for group in opt.param_groups:
            group["lr"] = lr_at(i)
        loss = F.mse_loss(decode(encode(x, sd, cfg), sd, cfg), x)
        update(opt, params, loss, sd, ema, 0.99)
        if (i + 1) % 100 == 0 or i + 1 == a.steps:
            print(json.dumps({"step": i + 1, "loss": round(loss.item(), 5), "ema_val_psnr": round(psnr(ema, cfg, val), 3),
                              "val_psnr": round(psnr(sd, cfg, val), 3), "img_per_s": round(32 * (i + 1) / (time.time() - t0), 1)}),
                  flush=True)


def step(a):
    """MAETok-B-128's training step: RoPE-Mixed ViT-B encoder with LayerScale, MoVQ ViT-B decoder, 128 x 32 latents."""
    torch.set_num_threads(a.threads)
    gen = torch.Generator().manual_seed(0)
    part = dict(width=768, depth=12, heads=12)
    cfg = dict(patch=16, image_size=256, use_ape=False, rope_theta=10.0, encoder=part, decoder=part)
    sd = init_state(cfg, gen, latents=128, channels=32, rope_mixed=True, layer_scale=1e-5, movq_decoder=True)
    opt, params = adamw(sd, 1e-4)
    ema = {k: v.detach().clone() for k, v in sd.items() if v.requires_grad}
    B, n = a.batch_size, (cfg["image_size"] // cfg["patch"]) ** 2
    x = torch.rand(B, 3, cfg["image_size"], cfg["image_size"], generator=gen) * 2 - 1
    print(f"MAETok-B-128 training step, batch {B}, {a.threads} threads: {sum(p.numel() for p in params) / 1e6:.1f} M parameters",
          file=sys.stderr)
    rates = []
    for it in range(a.iterations + 1):
        t0 = time.time()
        ratio = 0.5
        mask = torch.zeros(B, n)
        for b in range(B):
            mask[b, torch.randperm(n, generator=gen)[:int(ratio * n)]] = 1
        loss = F.mse_loss(decode(encode(x, sd, cfg, mask), sd, cfg), x)
        update(opt, params, loss, sd, ema, 0.9999)
        rate = B / (time.time() - t0)
        if it > 0:  # the first step allocates the optimiser state
            rates.append(rate)
        print(f"step {it}: {rate:.3f} img/s (loss {loss.item():.4f})", file=sys.stderr)
    print(json.dumps({"batch_size": B, "threads": a.threads, "img_per_s_median": round(statistics.median(rates), 4),
                      "img_per_s": [round(r, 4) for r in rates]}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", nargs="?", choices=["curve", "step"])
    ap.add_argument("--split", help="curve: folder with train.safetensors and val.safetensors (bench/ExportSplit.java)")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--flip", action="store_true", help="curve: flip each training image with probability 1/2")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--iterations", type=int, default=4)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (curve: 1, step: 2)")
    ap.add_argument("--check-fixture", metavar="DIR")
    a = ap.parse_args()
    if a.check_fixture:
        sys.exit(0 if check_fixture(a.check_fixture) else 1)
    if a.mode == "curve":
        if not a.split:
            ap.error("curve needs --split")
        a.threads = a.threads or 1
        curve(a)
    elif a.mode == "step":
        a.threads = a.threads or 2
        step(a)
    else:
        ap.error("give a mode (curve or step) or --check-fixture DIR")


if __name__ == "__main__":
    main()
