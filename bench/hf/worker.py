"""The Hugging Face side of `npm run bench -- vs-hf`: a long-lived process driven over stdin / stdout, one JSON object
a line each way, so that the TypeScript bench can alternate Hugging Face and paprec timings in one run.

Request:  {"id": 3, "op": "grad", ...}      Reply: {"id": 3, "ok": true, ...} or {"id": 3, "ok": false, "error": "..."}
Arrays travel as base64 of little-endian int32 / float32 ("i32:..." / "f32:..."). Timings are measured here, around
the model calls only (tensors are built before the clock starts). Nothing but replies is written to stdout.
"""
import base64
import json
import sys
import time
import traceback

import numpy as np


def decode(s):
    kind, data = s.split(":", 1)
    dtype = {"i32": np.int32, "f32": np.float32}[kind]
    return np.frombuffer(base64.b64decode(data), dtype=dtype)


def encode(a, kind):
    dtype = {"i32": np.int32, "f32": np.float32}[kind]
    return kind + ":" + base64.b64encode(np.ascontiguousarray(a, dtype=dtype).tobytes()).decode("ascii")


class Worker:
    def __init__(self):
        import torch
        import transformers

        self.torch = torch
        self.transformers = transformers
        self.models = {}

    # --- ops -------------------------------------------------------------------------------------------------

    def hello(self, req):
        torch = self.torch
        torch.set_num_threads(int(req["threads"]))
        return {
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "transformers": self.transformers.__version__,
            "threads": torch.get_num_threads(),
            "amx": bool(torch.cpu._is_amx_tile_supported()),
            "avx512_bf16": bool(torch.cpu._is_avx512_bf16_supported()),
        }

    def t5_config(self, shape):
        """A T5Config of P5 (T5 v1.0) shape: ReLU feed-forward, tied head, every field given."""
        from transformers import T5Config

        return T5Config(
            vocab_size=shape["vocab_size"], d_model=shape["d_model"], d_kv=shape["d_kv"], d_ff=shape["d_ff"],
            num_heads=shape["num_heads"], num_layers=shape["num_layers"],
            num_decoder_layers=shape["num_decoder_layers"], feed_forward_proj="relu", tie_word_embeddings=True,
            relative_attention_num_buckets=32, relative_attention_max_distance=128, layer_norm_epsilon=1e-6,
            dropout_rate=0.1, initializer_factor=1.0, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
        )

    def random_model(self, shape, seed):
        from transformers import T5ForConditionalGeneration

        self.torch.manual_seed(int(seed))
        return T5ForConditionalGeneration(self.t5_config(shape))

    def write_reference(self, req):
        """Random weights of the given shape, written by Hugging Face itself (config.json + model.safetensors)."""
        model = self.random_model(req["shape"], req["seed"])
        model.save_pretrained(req["dir"], safe_serialization=True)
        return {"dir": req["dir"]}

    def load(self, req):
        """A frozen, eval-mode model from an HF folder; bf16: the fp32 model cast with .to(torch.bfloat16)."""
        from transformers import T5ForConditionalGeneration

        torch = self.torch
        model = T5ForConditionalGeneration.from_pretrained(req["dir"], dtype=torch.float32)
        if req["dtype"] == "bf16":
            model = model.to(torch.bfloat16)
        elif req["dtype"] != "fp32":
            raise ValueError(f"dtype {req['dtype']!r}: expected fp32 or bf16")
        model.eval()
        model.requires_grad_(False)
        self.models[req["name"]] = model
        return {"name": req["name"], "parameters": sum(p.numel() for p in model.parameters())}

    def batch(self, req):
        torch = self.torch
        b, l = int(req["batch"]), int(req["source_length"])
        out = {
            "input_ids": torch.from_numpy(decode(req["input_ids"]).astype(np.int64)).view(b, l),
            "attention_mask": torch.from_numpy(decode(req["attention_mask"]).astype(np.int64)).view(b, l),
        }
        if "labels" in req:
            out["labels"] = torch.from_numpy(decode(req["labels"]).astype(np.int64)).view(b, int(req["target_length"]))
        return out

    def grad(self, req):
        """Forward + backward to the input (token) embeddings, weights frozen: the P5 loss's d loss / d embeddings."""
        torch = self.torch
        model = self.models[req["model"]]
        batch = self.batch(req)
        times, loss, grad = [], None, None
        for _ in range(int(req["reps"])):
            t0 = time.perf_counter()
            embeds = model.shared(batch["input_ids"]).detach().requires_grad_(True)
            out = model(inputs_embeds=embeds, attention_mask=batch["attention_mask"], labels=batch["labels"], use_cache=False)
            out.loss.backward()
            grad = embeds.grad
            times.append((time.perf_counter() - t0) * 1000)
            loss = float(out.loss)
        reply = {"ms": times, "loss": loss}
        if req.get("return_gradients"):
            reply["gradients"] = encode(grad.float().numpy(), "f32")
        return reply

    def generation_config(self, req):
        """Everything explicit: HF 5.x defaults differ from 4.x, and nothing paprec does not do may switch on.
        output_scores is what makes generate return sequences_scores (the per-step scores are not read)."""
        from transformers import GenerationConfig

        return GenerationConfig(
            do_sample=False, num_beams=int(req["num_beams"]), num_return_sequences=int(req["num_return_sequences"]),
            max_length=int(req["max_length"]), min_length=0, early_stopping=bool(req["early_stopping"]),
            length_penalty=float(req["length_penalty"]), num_beam_groups=1, diversity_penalty=0.0,
            repetition_penalty=1.0, no_repeat_ngram_size=0, encoder_no_repeat_ngram_size=0, bad_words_ids=None,
            forced_bos_token_id=None, forced_eos_token_id=None, remove_invalid_values=False, renormalize_logits=False,
            use_cache=True, output_scores=True, return_dict_in_generate=True, decoder_start_token_id=0,
            pad_token_id=0, eos_token_id=1, bos_token_id=None, temperature=1.0, top_k=None, top_p=None,
        )

    def generate(self, req):
        torch = self.torch
        model = self.models[req["model"]]
        batch = self.batch(req)
        gc = self.generation_config(req)
        times, out = [], None
        with torch.inference_mode():
            for _ in range(int(req["reps"])):
                t0 = time.perf_counter()
                out = model.generate(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], generation_config=gc)
                times.append((time.perf_counter() - t0) * 1000)
        seqs = out.sequences
        return {
            "ms": times,
            "sequences": encode(seqs.numpy(), "i32"),
            "shape": list(seqs.shape),
            "scores": encode(out.sequences_scores.float().numpy(), "f32"),
        }

    def train(self, req):
        """Training steps (dropout on, weight gradients, clip 1.0, AdamW, weight decay off for layer norms) on a new
        model of the given shape; bf16: autocast, fp32 weights and optimizer state (what a PyTorch user writes)."""
        torch = self.torch
        model = self.random_model(req["shape"], req["seed"])
        model.train()
        decay = [p for n, p in model.named_parameters() if "layer_norm" not in n]
        no_decay = [p for n, p in model.named_parameters() if "layer_norm" in n]
        opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
            lr=float(req["lr"]), betas=(0.9, 0.999), eps=1e-8,
        )
        bf16 = req["dtype"] == "bf16"
        batches = [self.batch(b) for b in req["batches"]]
        times, losses = [], []
        for step, batch in enumerate(batches):
            t0 = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = model(**batch, use_cache=False).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            times.append((time.perf_counter() - t0) * 1000)
            losses.append(float(loss))
        return {"ms": times, "losses": losses}

    # --- loop ------------------------------------------------------------------------------------------------

    def handle(self, req):
        op = req.get("op")
        fn = {"hello": self.hello, "write_reference": self.write_reference, "load": self.load, "grad": self.grad,
              "generate": self.generate, "train": self.train}.get(op)
        if fn is None:
            raise ValueError(f"unknown op {op!r}")
        return fn(req)


def main():
    out = sys.stdout
    sys.stdout = sys.stderr  # library chatter must not mix with the replies
    worker = Worker()
    for line in sys.stdin:
        if not line.strip():
            continue
        rid = None
        try:
            req = json.loads(line)
            rid = req.get("id")
            reply = {"id": rid, "ok": True, **worker.handle(req)}
        except Exception as err:  # reported to the bench, which names the op; the worker stays up
            traceback.print_exc(file=sys.stderr)
            reply = {"id": rid, "ok": False, "error": f"{type(err).__name__}: {err}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
