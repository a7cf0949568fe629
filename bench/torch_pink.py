"""The Pink model of src/model in PyTorch, for a throughput peer (bench/train.ts).

Same shapes as the TF.js model: ViT with patch embedding and learned positions, pre-norm blocks,
features after the penultimate block, Pink's adapter after the pre-attention norm in every used
block, a linear projection into the LM, an untied head; stage-2 training (projection, adapters,
embedding and head trainable) with AdamW on a masked next-token loss.

    /usr/bin/python3 bench/torch_pink.py --preset small --batch 16 --length 128 --steps 5 --vocab 1500
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {
    "nano": dict(vit=dict(imageSize=32, patchSize=8, width=32, depth=3, heads=2, mlpRatio=2),
                 lm=dict(width=48, depth=2, heads=2, mlpRatio=2, maxLen=96), r=4),
    "small": dict(vit=dict(imageSize=64, patchSize=8, width=96, depth=4, heads=4, mlpRatio=4),
                  lm=dict(width=128, depth=4, heads=4, mlpRatio=4, maxLen=192), r=8),
}


class Adapter(nn.Module):
    def __init__(self, c, r):
        super().__init__()
        self.down = nn.Linear(c, r)
        self.up = nn.Linear(r, c)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)
        self.drop = nn.Dropout(0.1)

    def forward(self, h):
        return h + self.up(self.drop(self.down(h)))


class Block(nn.Module):
    def __init__(self, c, heads, ratio, r, causal):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(c), nn.LayerNorm(c)
        self.qkv, self.proj = nn.Linear(c, 3 * c), nn.Linear(c, c)
        self.fc, self.out = nn.Linear(c, ratio * c), nn.Linear(ratio * c, c)
        self.adapter = Adapter(c, r) if r else None
        self.heads, self.causal = heads, causal

    def forward(self, x, past=None, store=None):
        """`past`: this layer's cached (keys, values); `store` receives the new ones (decoding)."""
        b, t, c = x.shape
        h = self.ln1(x)
        if self.adapter is not None:
            h = self.adapter(h)
        q, k, v = self.qkv(h).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        if past is not None:
            k, v = torch.cat([past[0], k], 2), torch.cat([past[1], v], 2)
        if store is not None:
            store.append((k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(c // self.heads)
        if self.causal and t > 1:
            tk = k.shape[2]
            att = att.masked_fill(torch.ones(t, tk, dtype=torch.bool, device=x.device).triu(1 + tk - t), float("-inf"))
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(b, t, c)
        x = x + self.proj(y)
        return x + self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class Pink(nn.Module):
    def __init__(self, p, vocab):
        super().__init__()
        v, l = p["vit"], p["lm"]
        self.p = v["patchSize"]
        n = (v["imageSize"] // v["patchSize"]) ** 2
        self.patch = nn.Linear(self.p * self.p * 3, v["width"])
        self.pos = nn.Parameter(torch.randn(n, v["width"]) * 0.02)
        self.vit = nn.ModuleList([Block(v["width"], v["heads"], v["mlpRatio"], p["r"], False) for _ in range(v["depth"] - 1)])
        self.projection = nn.Linear(v["width"], l["width"])
        self.wte = nn.Embedding(vocab, l["width"])
        self.wpe = nn.Parameter(torch.randn(l["maxLen"], l["width"]) * 0.01)
        self.lm = nn.ModuleList([Block(l["width"], l["heads"], l["mlpRatio"], p["r"], True) for _ in range(l["depth"])])
        self.lnf = nn.LayerNorm(l["width"])
        self.head = nn.Linear(l["width"], vocab, bias=False)
        self.slot = 3

    def image_tokens(self, images):
        b, s = images.shape[0], images.shape[1]
        g = s // self.p
        patches = images.reshape(b * g, self.p, g, self.p * 3).transpose(1, 2).reshape(b, g * g, -1)
        x = self.patch(patches - 0.5) + self.pos
        for blk in self.vit:
            x = blk(x)
        return self.projection(x)

    def forward(self, images, ids, img=None, pasts=None, store=None, start=0):
        """Final hidden states; `img` reuses image tokens, `pasts`/`store` are per-layer caches."""
        tok = self.wte(ids)
        if img is None:
            img = self.image_tokens(images)
        n = img.shape[1]
        h = tok if start > 0 else torch.cat([tok[:, : self.slot], img, tok[:, self.slot + n:]], 1)
        h = h + self.wpe[start: start + ids.shape[1]]
        for i, blk in enumerate(self.lm):
            h = blk(h, None if pasts is None else pasts[i], store)
        return self.lnf(h)


def generate(model, images, prompt, new_tokens, cache):
    """Greedy decoding of `new_tokens` after `prompt` [B, L] (image slot included), as src/model/Generate.ts."""
    with torch.no_grad():
        img = model.image_tokens(images)
        if not cache:
            ids = prompt
            for _ in range(new_tokens):
                nxt = model.head(model(None, ids, img)[:, -1]).argmax(-1, keepdim=True)
                ids = torch.cat([ids, nxt], 1)
            return ids[:, prompt.shape[1]:]
        store = []
        nxt = model.head(model(None, prompt, img, store=store)[:, -1]).argmax(-1, keepdim=True)
        out = [nxt]
        for step in range(1, new_tokens):
            pasts, store = store, []
            nxt = model.head(model(None, nxt, img, pasts, store, prompt.shape[1] + step - 1)[:, -1]).argmax(-1, keepdim=True)
            out.append(nxt)
        return torch.cat(out, 1)


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--preset", default="small")
    a.add_argument("--batch", type=int, default=16)
    a.add_argument("--length", type=int, default=128)
    a.add_argument("--steps", type=int, default=5)
    a.add_argument("--vocab", type=int, default=1500)
    a.add_argument("--device", default="cpu")
    a.add_argument("--threads", type=int, default=1)
    a.add_argument("--generate", type=int, default=0, help="also time greedy decoding of this many prompts (32 new tokens)")
    a.add_argument("--prompt-length", type=int, default=80)
    o = a.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(o.threads)
    p = PRESETS[o.preset]
    dev = torch.device(o.device)
    model = Pink(p, o.vocab).to(dev)
    for name, w in model.named_parameters():
        w.requires_grad = name.startswith("projection") or ".adapter." in name or name.startswith("wte") or name.startswith("head")
    opt = torch.optim.AdamW([w for w in model.parameters() if w.requires_grad], lr=1e-4, weight_decay=0.02)
    s = p["vit"]["imageSize"]
    images = torch.rand(o.batch, s, s, 3, device=dev)
    ids = torch.randint(5, o.vocab, (o.batch, o.length), device=dev)
    targets = torch.randint(5, o.vocab, (o.batch, o.length), device=dev)
    weights = torch.zeros(o.batch, o.length, device=dev)
    weights[:, -16:] = 1

    def step():
        # The head only where the loss is (the answers), as the recipe's Pink.answerLoss does.
        hidden = model(images, ids)
        rows = weights.reshape(-1) > 0
        logits = model.head(hidden.reshape(-1, hidden.shape[-1])[rows])
        loss = F.cross_entropy(logits, targets.reshape(-1)[rows])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_([w for w in model.parameters() if w.requires_grad], 1.0)
        opt.step()

    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    for _ in range(2):
        step()
    sync()
    t0 = time.perf_counter()
    for _ in range(o.steps):
        step()
    sync()
    ms = (time.perf_counter() - t0) * 1000 / o.steps
    generation = None
    if o.generate > 0:
        model.eval()
        prompt = torch.randint(5, o.vocab, (o.generate, o.prompt_length), device=dev)

        def timed(cache):
            generate(model, images[: o.generate], prompt, 4, cache)
            sync()
            t = time.perf_counter()
            generate(model, images[: o.generate], prompt, 32, cache)
            sync()
            g = (time.perf_counter() - t) * 1000
            return {"ms": round(g), "tokensPerSecond": round(o.generate * 32 / (g / 1000))}

        generation = {"cached": timed(True), "uncached": timed(False)}
    print("RESULT " + json.dumps({
        "torch": torch.__version__, "device": o.device, "threads": torch.get_num_threads(), "msPerStep": round(ms),
        "tokensPerSecond": round(o.batch * o.length / (ms / 1000)), "batch": o.batch, "length": o.length,
        "generation": generation,
    }))


if __name__ == "__main__":
    main()
