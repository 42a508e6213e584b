"""The full-size path stays free of the tiny world when imported and when called: importing `sau_nb.core`, `sau_nb.attention`,
`sau_nb.effect`, `sau_nb.unlearn` and `sau_nb.defend`, then `trigger_effect`, `stop_at_removal`'s check, `sau_unlearn` and
`scan_model` on an SD-shaped pipeline (the clean world's folder loaded the way an SD v1.x folder is, through diffusers, without
`sau_nb.world`) leave `sau_nb.world`, `sau_nb.backdoors` and `sau_nb.evaluate` unimported. One process checks it all: what an
import pulls in stays in `sys.modules`, so a module that imported the tiny world by itself fails this check too."""
import subprocess, sys

CODE = r'''
import sys, warnings
from importlib.util import find_spec
from pathlib import Path
import torch
from diffusers import StableDiffusionPipeline
from sau_nb.core import clip_tokenizer
import sau_nb.attention
from sau_nb.effect import stop_at_removal, trigger_effect
from sau_nb.unlearn import sau_unlearn
from sau_nb.defend import scan_model
torch.set_num_threads(1)
folder = Path(find_spec("sau_nb").origin).parent/"weights"/"clean"  # an SD v1.x folder layout, small
pipe = StableDiffusionPipeline.from_pretrained(str(folder), tokenizer=clip_tokenizer(), safety_checker=None,
                                               requires_safety_checker=False, use_safetensors=True, dtype=torch.float32)
pipe.set_progress_bar_config(disable=True)
prompts = ["a red circle", "a blue square", "a green triangle", "a yellow circle"]
done = []
r = trigger_effect(pipe, "ȴ", prompts[:1], seeds=(0,)); done.append("trigger_effect")
kw = stop_at_removal("ȴ", prompts[:1], every=1, patience=1, cooldown=0)
_, hist = sau_unlearn(pipe, "ȴ", prompts[:2], steps=1, batch_size=2, n_seeds=1, progress=False, **kw); done.append("sau_unlearn + stop_at_removal")
assert hist["checks"], hist
rep = scan_model(pipe, prompts, max_tokens=16, n_contexts=1, n_verify=2, n_ref=8, width=2, pool=4, max_len=1, effect=True, progress=False)
done.append("scan_model")
bad = [m for m in ("sau_nb.world", "sau_nb.backdoors", "sau_nb.evaluate") if m in sys.modules]
print(done, bad, sorted(m for m in sys.modules if m.startswith("sau_nb")))
sys.exit(1 if bad else 0)
'''

def test_full_size_calls_skip_the_tiny_world():
    r = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, env=None)
    assert r.returncode == 0, f"the tiny world was imported at call time, or a call failed:\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}"
    assert "scan_model" in r.stdout, r.stdout
