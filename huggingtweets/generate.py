"""Posts from a trained model, exactly as a downstream user gets them, plus a memorization check.

``generate`` calls ``pipeline('text-generation', model=DIR)(prompt, num_return_sequences=n)`` with
no other argument: what it returns is what anyone loading the model from the Hub sees.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from huggingtweets.errors import InputError, StageError
from huggingtweets.runfolder import RunFolder, atomic_write_json

DEFAULT_PROMPTS = ("My dream is", "I think that", "Today I", "The best thing about", "Honestly,")
CARD_SAMPLES = 10  # RunConfig.samples' default: what `run` writes for the card
MEMORIZATION_THRESHOLD_WORDS = 8  # a sample copying this many words in a row counts as memorized
# A memorized sample is drawn again at most this many times before it is left out of the card.
MAX_REDRAWS = 3
_WORD = re.compile(r"[\w'’@#]+")


def _model_dir(path: Path | str) -> Path:
    path = Path(path)
    if (path / "model" / "config.json").is_file():  # a run folder was given
        return path / "model"
    if (path / "config.json").is_file():
        return path
    raise StageError(
        f"No trained model in {path.name}/ (no config.json): expected a run folder with model/ or a model folder",
        hint="run `huggingtweets train --run-dir DIR` first",
    )


def _pipeline(model_dir: Path | str):
    from transformers import pipeline

    from huggingtweets.librarybars import quiet_library_bars

    with quiet_library_bars():  # transformers' "Loading weights" bar
        return pipeline("text-generation", model=str(_model_dir(model_dir)))


def _sample(pipe, prompt: str, n: int, seed: int | None) -> list[str]:
    if seed is not None:
        from transformers import set_seed

        set_seed(seed)
    # No generation arguments on purpose: generation_config.json and config.prefix drive it.
    return [out["generated_text"] for out in pipe(prompt, num_return_sequences=n)]


def generate(model_dir: Path | str, prompt: str, *, n: int = 5, seed: int | None = None) -> list[str]:
    """``n`` posts starting with ``prompt``, from a model folder or a run folder."""
    if n < 1:
        raise InputError(f"-n {n} is invalid: expected a number of samples >= 1")
    return _sample(_pipeline(model_dir), prompt, n, seed)


def words(text: str) -> list[str]:
    """Lower-cased words (hashtags and mentions included), punctuation and URLs' slashes dropped."""
    return [w.lower() for w in _WORD.findall(text)]


class CopyChecker:
    """Longest run of consecutive words a text shares with any one training post.

    "Is there a shared run of length L" is monotone in L, so a binary search over L with a set of
    the corpus's L-grams (built once per L, never across post boundaries) answers it fast.
    """

    def __init__(self, posts: Iterable[str]):
        self._posts = [w for w in {tuple(words(p)) for p in posts} if w]
        self._longest = max((len(p) for p in self._posts), default=0)
        self._grams: dict[int, set[tuple[str, ...]]] = {}

    def _has_run(self, sample: Sequence[str], length: int) -> bool:
        grams = self._grams.get(length)
        if grams is None:
            grams = {p[i : i + length] for p in self._posts for i in range(len(p) - length + 1)}
            self._grams[length] = grams
        return any(tuple(sample[i : i + length]) in grams for i in range(len(sample) - length + 1))

    def longest_copied_words(self, text: str) -> int:
        sample = words(text)
        lo, hi = 0, min(len(sample), self._longest)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._has_run(sample, mid):
                lo = mid
            else:
                hi = mid - 1
        return lo


def write_predictions(
    run_dir: Path | str,
    *,
    prompts: Sequence[str] | None = None,
    n_per_prompt: int = 2,
    n_samples: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Sample posts for the card into ``DIR/predictions.json`` with a memorization check per sample.

    ``n_samples`` (optional) is the total wanted: spread over the prompts, overriding ``n_per_prompt``.
    Only predictions.json is written: the training summary stays the train stage's own file.
    """
    run_dir = Path(run_dir)
    prompts = list(prompts or DEFAULT_PROMPTS)
    if n_samples is not None:
        prompts = prompts[:n_samples]  # fewer samples than prompts: the first prompts, one each
        n_per_prompt = max(1, math.ceil(n_samples / len(prompts)))
    from datasets import load_from_disk

    dataset_dir = run_dir / "dataset"
    if not dataset_dir.is_dir():
        raise StageError(
            "No dataset/ in the run folder: expected the output of the prepare stage",
            hint="run `huggingtweets prepare --run-dir DIR` first",
        )
    from huggingtweets.librarybars import quiet_library_bars

    with quiet_library_bars():
        checker = CopyChecker(load_from_disk(str(dataset_dir))["train"]["text"])

    pipe = _pipeline(run_dir)
    samples, first_copied, redrawn, withheld = [], 0, 0, 0
    for i, prompt in enumerate(prompts):
        for j, text in enumerate(_sample(pipe, prompt, n_per_prompt, seed + i)):
            copied = checker.longest_copied_words(text)
            first_copied += copied >= MEMORIZATION_THRESHOLD_WORDS
            # The card never shows a copied post: draw that one again, a bounded number of times.
            for attempt in range(1, MAX_REDRAWS + 1):
                if copied < MEMORIZATION_THRESHOLD_WORDS:
                    break
                redrawn += 1
                (text,) = _sample(pipe, prompt, 1, seed + 7919 * (i + 1) + 101 * j + attempt)
                copied = checker.longest_copied_words(text)
            if copied >= MEMORIZATION_THRESHOLD_WORDS:
                withheld += 1
                continue
            samples.append({"prompt": prompt, "text": text, "longest_copied_words": copied})
    drawn = len(prompts) * n_per_prompt
    if n_samples is not None:
        samples = samples[:n_samples]
    result = {
        "samples": samples,
        # What the bot does: the share of first draws that copied a training post.
        "memorization_rate": round(first_copied / drawn, 4) if drawn else 0.0,
        "memorization_threshold_words": MEMORIZATION_THRESHOLD_WORDS,
        "redrawn": redrawn,  # draws made again because they copied a training post
        "withheld": withheld,  # samples still copying after MAX_REDRAWS, left out
    }
    atomic_write_json(RunFolder(run_dir).predictions, result)
    return result


def card_samples_seed(run_dir: Path | str) -> int:
    """The seed `run` samples the card's posts with: training's own, as training_summary.json records it."""
    from huggingtweets.runfolder import read_json

    path = RunFolder(run_dir).training_summary
    try:
        seed = (read_json(path).get("hyperparameters") or {}).get("seed") if path.is_file() else None
    except (ValueError, AttributeError):
        seed = None
    return seed if type(seed) is int and seed >= 0 else 0


def ensure_card_samples(run_dir: Path | str, *, n_samples: int = CARD_SAMPLES) -> dict[str, Any] | None:
    """Write DIR/predictions.json when it is missing and the run folder has a trained model, as the
    generate stage of `run` would; None when there was nothing to do (or nothing to sample from, in
    which case the card names the stage that is missing)."""
    run_dir = Path(run_dir)
    if (RunFolder(run_dir).predictions).is_file():
        return None
    if not (RunFolder(run_dir).training_summary).is_file() or not (RunFolder(run_dir).model_config).is_file():
        return None
    return write_predictions(run_dir, n_samples=n_samples, seed=card_samples_seed(run_dir))
