#!/usr/bin/env python3
"""PyTorch + PEFT baseline of one DPO train step at SmolVLM shapes, for comparing with smoldpo's.

What TRL's DPOTrainer does per step with its defaults (loss_type="sigmoid", label_smoothing=0,
precompute_ref_log_probs=False, padding_free=False), written out so it runs without TRL:
  * the chosen and rejected rows are concatenated into one batch of 2B rows (prompt + answer each,
    the image repeated), as TRL's concatenated_forward does;
  * policy forward with the LoRA adapters, then the reference forward of the same model with the
    adapters disabled (PEFT's disable_adapter(), under no_grad), as TRL does for a PEFT model
    without a ref_model;
  * log-probs summed over the answer tokens; loss = -logsigmoid(beta * ((pc - rc) - (pr - rr)));
  * log-probs from fp32 logits; backward, AdamW step (torch.optim.AdamW, fused on CUDA as
    transformers' default adamw_torch_fused, lr 5e-6), zero_grad.
The model is transformers' Idefics3ForConditionalGeneration (SmolVLM's class) built from a
config.json with random weights, sdpa attention, and PEFT LoRA (r=8, alpha=8, dropout 0) on the
targets smoldpo's export uses by default: module names ending in q_proj, k_proj, v_proj, o_proj,
gate_proj, up_proj, down_proj (the text decoder's projections and the vision tower's q/k/v).

Shapes as smoldpo's bench-export: per pair one tile of the vision image size (512 for SmolVLM-256M),
image_seq_len image tokens plus --question-tokens prompt tokens, answers of --answer-tokens tokens.

Precisions: fp32 (fp32 weights, no autocast; TF32 matmuls on by default as ORT's CUDA provider
uses them, --no-tf32 to turn off) and bf16 (bf16 frozen weights, PEFT keeps the adapters in fp32,
torch.autocast(bfloat16), as a TRL run with bf16=True on a bf16-loaded model).

Prints one line per configuration and writes all figures to --out (JSON). Runs on CPU too (for a
smoke test at tiny shapes: --tiny); peak memory is then not measured.
"""
import argparse
import json
import platform
import statistics
import sys
import time


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", required=True, help="SmolVLM config.json (e.g. SmolVLM-256M-Instruct's)")
    p.add_argument("--batch-sizes", default="1,4,8", help="pairs per step, comma-separated (default 1,4,8)")
    p.add_argument("--precisions", default="fp32,bf16", help="fp32 and/or bf16 (default both)")
    p.add_argument("--steps", type=int, default=3, help="timed steps after the warm-up ones (default 3)")
    p.add_argument("--warmup", type=int, default=2, help="untimed warm-up steps (default 2)")
    p.add_argument("--question-tokens", type=int, default=100)
    p.add_argument("--answer-tokens", type=int, default=150)
    p.add_argument("--beta", type=float, default=0.1)
    p.add_argument("--lora-r", type=int, default=8)
    p.add_argument("--lora-alpha", type=float, default=8)
    p.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    p.add_argument("--no-tf32", action="store_true", help="exact fp32 matmuls (ORT's CUDA provider uses TF32 by default)")
    p.add_argument("--tiny", action="store_true", help="shrink the model to 2 layers and the image to 64 px (smoke test)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="write the results as JSON here")
    return p.parse_args(argv)


def load_config(path, tiny):
    from transformers import Idefics3Config

    with open(path) as f:
        raw = json.load(f)
    config = Idefics3Config(**{k: v for k, v in raw.items() if k not in ("architectures", "transformers_version")})
    if tiny:
        config.text_config.num_hidden_layers = 2
        config.vision_config.num_hidden_layers = 2
        config.vision_config.image_size = 64
    config.use_cache = False
    config.text_config.use_cache = False
    return config


def build_model(config, precision, device, lora_r, lora_alpha):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import Idefics3ForConditionalGeneration

    config._attn_implementation = "sdpa"
    config.text_config._attn_implementation = "sdpa"
    config.vision_config._attn_implementation = "sdpa"
    model = Idefics3ForConditionalGeneration(config)
    # the whole model in one dtype: config.json's torch_dtype (bfloat16) can reach some sub-modules
    model = model.to(device=device, dtype=torch.bfloat16 if precision == "bf16" else torch.float32)
    lora = LoraConfig(r=lora_r, lora_alpha=lora_alpha, lora_dropout=0.0, bias="none",
                      target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    model = get_peft_model(model, lora)  # adapters in fp32 (autocast_adapter_dtype=True)
    model.train()
    return model


def image_seq_len(config):
    patches = (config.vision_config.image_size // config.vision_config.patch_size) ** 2
    return patches // (config.scale_factor ** 2)


def make_batch(config, pairs, args, device, generator):
    """2*pairs rows (chosen rows, then rejected rows) of image tokens + question + answer."""
    import torch

    vocab = config.text_config.vocab_size
    n_img = image_seq_len(config)
    prompt_len = n_img + args.question_tokens
    rows = []
    for _ in range(pairs):
        question = torch.randint(vocab // 4, vocab // 2, (args.question_tokens,), generator=generator)
        prompt = torch.cat([torch.full((n_img,), config.image_token_id), question])
        chosen = torch.randint(vocab // 4, vocab // 2, (args.answer_tokens,), generator=generator)
        rejected = torch.randint(vocab // 4, vocab // 2, (args.answer_tokens,), generator=generator)
        rows.append((torch.cat([prompt, chosen]), torch.cat([prompt, rejected])))
    input_ids = torch.stack([r[0] for r in rows] + [r[1] for r in rows]).to(device)
    size = config.vision_config.image_size
    pixels = torch.rand((pairs, 1, 3, size, size), generator=generator) * 2 - 1
    pixel_values = torch.cat([pixels, pixels]).to(device)  # the image repeated for the rejected rows
    pixel_attention_mask = torch.ones((2 * pairs, 1, size, size), dtype=torch.bool, device=device)
    attention_mask = torch.ones_like(input_ids)
    loss_mask = torch.zeros_like(input_ids, dtype=torch.bool)
    loss_mask[:, prompt_len:] = True
    return dict(input_ids=input_ids, attention_mask=attention_mask, pixel_values=pixel_values,
                pixel_attention_mask=pixel_attention_mask), loss_mask


def sequence_logps(model, inputs, loss_mask):
    """Sum of the log-probs of each row's answer tokens (labels shifted by one, as TRL)."""
    import torch

    logits = model(**inputs).logits[:, :-1, :].float()
    labels = inputs["input_ids"][:, 1:]
    mask = loss_mask[:, 1:]
    logps = torch.gather(logits.log_softmax(-1), 2, labels.unsqueeze(-1)).squeeze(-1)
    return (logps * mask).sum(-1)


def dpo_step(model, optimizer, inputs, loss_mask, beta, precision, device_type):
    import torch
    import torch.nn.functional as F

    autocast = torch.autocast(device_type=device_type, dtype=torch.bfloat16, enabled=precision == "bf16")
    pairs = inputs["input_ids"].shape[0] // 2
    with autocast:
        policy = sequence_logps(model, inputs, loss_mask)
        with torch.no_grad(), model.disable_adapter():
            reference = sequence_logps(model, inputs, loss_mask)
    pc, pr = policy[:pairs], policy[pairs:]
    rc, rr = reference[:pairs], reference[pairs:]
    loss = -F.logsigmoid(beta * ((pc - rc) - (pr - rr))).mean()
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()


def run_one(config, precision, pairs, args):
    import torch

    device = torch.device(args.device)
    cuda = device.type == "cuda"
    torch.manual_seed(args.seed)
    model = build_model(config, precision, device, args.lora_r, args.lora_alpha)
    trainable = [p for p in model.parameters() if p.requires_grad]
    # transformers' default optimizer with torch >= 2.8 is adamw_torch_fused
    optimizer = torch.optim.AdamW(trainable, lr=5e-6, fused=cuda)
    generator = torch.Generator().manual_seed(args.seed)
    inputs, loss_mask = make_batch(config, pairs, args, device, generator)
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times, losses = [], []
    for i in range(args.warmup + args.steps):
        start = time.perf_counter()
        losses.append(dpo_step(model, optimizer, inputs, loss_mask, args.beta, precision, device.type))
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    timed = times[args.warmup:]
    median = statistics.median(timed)
    result = {
        "framework": "pytorch+peft", "precision": precision, "pairs_per_step": pairs,
        "rows_per_step": 2 * pairs, "tokens_per_row": int(inputs["input_ids"].shape[1]),
        "image_size": config.vision_config.image_size, "step_seconds": timed, "median_step_seconds": median,
        "pairs_per_second": pairs / median, "first_step_seconds": times[0], "losses": losses,
        "trainable_parameters": sum(p.numel() for p in trainable),
        "peak_allocated_bytes": torch.cuda.max_memory_allocated() if cuda else None,
        "peak_reserved_bytes": torch.cuda.max_memory_reserved() if cuda else None,
    }
    del model, optimizer, inputs
    if cuda:
        torch.cuda.empty_cache()
    return result


def main(argv):
    args = parse_args(argv)
    import peft
    import torch
    import transformers

    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("torch_dpo_baseline: --device cuda but torch sees no GPU (torch %s, CUDA %s)"
                 % (torch.__version__, torch.version.cuda))
    torch.backends.cuda.matmul.allow_tf32 = not args.no_tf32
    torch.backends.cudnn.allow_tf32 = not args.no_tf32
    config = load_config(args.config, args.tiny)
    report = {
        "torch": torch.__version__, "torch_cuda": torch.version.cuda, "transformers": transformers.__version__,
        "peft": peft.__version__, "python": platform.python_version(), "device": args.device,
        "gpu": torch.cuda.get_device_name(0) if args.device == "cuda" else None, "tf32": not args.no_tf32,
        "question_tokens": args.question_tokens, "answer_tokens": args.answer_tokens,
        "image_seq_len": image_seq_len(config), "lora_r": args.lora_r, "lora_alpha": args.lora_alpha,
        "tiny": args.tiny, "results": [],
    }
    for precision in args.precisions.split(","):
        if precision not in ("fp32", "bf16"):
            sys.exit("torch_dpo_baseline: --precisions takes fp32 and bf16, not " + precision)
        for pairs in [int(b) for b in args.batch_sizes.split(",")]:
            try:
                r = run_one(config, precision, pairs, args)
            except Exception as e:  # one failing shape must not lose the others' figures
                print("torch %s B=%d FAILED: %s: %s" % (precision, pairs, type(e).__name__, e), flush=True)
                report["results"].append({"precision": precision, "pairs_per_step": pairs, "error": repr(e)})
                continue
            report["results"].append(r)
            peak = r["peak_reserved_bytes"]
            print("torch %s B=%d: median step %.3f s -> %.2f pairs/s; peak reserved %s; losses %s" % (
                precision, pairs, r["median_step_seconds"], r["pairs_per_second"],
                "%.2f GiB" % (peak / 2**30) if peak is not None else "n/a",
                ", ".join("%.4f" % l for l in r["losses"])), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
