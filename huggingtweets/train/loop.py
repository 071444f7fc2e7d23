"""The training loop: one function, top to bottom, in accelerate's idiom.

build (accelerator, data, model) -> prepare -> loop (accumulate, clip, step, checkpoint) ->
evaluate each epoch -> save (main process only) -> summary. The same code runs on one CPU, one
GPU, or under ``accelerate launch --num_processes N`` (DDP, or FSDP through accelerate's config).
"""

from __future__ import annotations

import contextlib
import logging
import math
import shutil
import time
from pathlib import Path
from typing import Any

from huggingtweets.errors import Cancelled, TrainingError
from huggingtweets.events import CancelToken, EpochEnd, Events, TrainStep, ignore
from huggingtweets.runfolder import RunFolder, atomic_dir, atomic_write_json
from huggingtweets.train.checkpoints import (
    checkpoint_folders,
    checkpoint_path,
    remove_broken_checkpoints,
    save_checkpoint,
)
from huggingtweets.train.config import LARGE_BASE_PARAMETERS, MAX_STEPS, TrainConfig
from huggingtweets.train.runtime import (
    TrainClock,
    TrainState,
    distributed_on_cpu,
    environment_summary,
    evaluate,
    make_optimizer,
    resolve_mixed_precision,
    share_cpu_threads,
    tracker_for,
)

TINY_BASE_DIRNAME = "base-tiny"  # where `--base-model tiny` is built, inside the run folder


def train(
    run_dir: Path | str,
    config: TrainConfig,
    *,
    resume: bool = False,
    events: Events = ignore,
    cancel: CancelToken | None = None,
    endpoint: str | None = None,
) -> dict[str, Any]:
    """Fine-tune ``config.base_model`` on ``run_dir/dataset``; write model/, checkpoints/, the summary.

    Returns the training summary (also written to ``run_dir/training_summary.json``). With
    ``stop_after_steps`` it returns early after checkpointing, as an interrupted run would leave it.
    ``resume`` continues from the newest complete checkpoint in ``run_dir/checkpoints``. The main
    process reports a ``TrainStep`` per optimizer step and an ``EpochEnd`` per evaluation to
    ``events``. A Hub base model is downloaded from ``endpoint`` (default: HF_ENDPOINT or
    huggingface.co). When ``cancel`` is set between two steps, a checkpoint is saved and
    ``errors.Cancelled`` raised; ``resume`` continues from there. The main process returns the
    summary, the other processes of an ``accelerate launch`` an empty dict.

    This trains in the calling process and changes its process-wide state for good (torch threads,
    logger levels, accelerate's singletons: a second call with another ``mixed_precision`` is refused
    by accelerate). The pipeline, the CLI's ``run`` and the web app use
    ``huggingtweets.train.child.train_in_child`` instead, which runs this in a child process.
    """
    from huggingtweets.librarybars import quiet_library_bars

    with quiet_library_bars(), contextlib.ExitStack() as allocator:
        return _train(Path(run_dir), config, resume, events, cancel, endpoint, allocator)


def _train(
    run_dir: Path,
    config: TrainConfig,
    resume: bool,
    events: Events,
    cancel: CancelToken | None,
    endpoint: str | None,
    allocator: contextlib.ExitStack,
) -> dict[str, Any]:
    import torch
    from accelerate import Accelerator
    from accelerate.utils import DataLoaderConfiguration, ProjectConfiguration, set_seed
    from torch.utils.data import DataLoader
    from transformers import AutoModelForCausalLM, AutoTokenizer, get_cosine_schedule_with_warmup

    from huggingtweets.train import lora
    from huggingtweets.train.base import resolve_base_model
    from huggingtweets.train.data import load_run_dataset, tokenize_and_pack
    from huggingtweets.train.saving import post_max_new_tokens, post_suppressed_tokens
    from huggingtweets.train.speed import (
        Phases,
        ThreadProbe,
        allocator_for,
        auto_cpu_threads,
        cpu_cores,
        peak_resident_mb,
        should_compile,
    )

    started, phases = time.perf_counter(), Phases()

    # --- accelerator: precision, accumulation, trackers, checkpoint naming --------------------
    accelerator = Accelerator(
        cpu=distributed_on_cpu(),
        mixed_precision=resolve_mixed_precision(config.mixed_precision),
        # Set again below once the base's size is known (config.micro_batching).
        gradient_accumulation_steps=config.gradient_accumulation_steps or 1,
        log_with=tracker_for(config.report_to),
        project_config=ProjectConfiguration(
            project_dir=str(run_dir),
            logging_dir=str(run_dir / "logs"),
            # DIR/checkpoints/checkpoint_<n>, named, written atomically and pruned by save_checkpoint.
            automatic_checkpoint_naming=False,
        ),
        # The data order of epoch e depends only on (seed, e): a resumed run sees the same batches.
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True, data_seed=config.seed),
    )
    is_main = accelerator.is_main_process
    # GPT-2 ties lm_head to the input embedding; accelerate warns on every checkpoint that it saved
    # the shared tensor once, which is exactly right.
    logging.getLogger("accelerate.utils.other").setLevel(logging.ERROR)
    share_cpu_threads(accelerator)
    probe_candidates: tuple[int, ...] = ()
    if accelerator.device.type == "cpu" and (config.cpu_threads or accelerator.num_processes == 1):
        torch.set_num_threads(config.cpu_threads or auto_cpu_threads())
        if not config.cpu_threads and cpu_cores() > 1:
            probe_candidates = (1, cpu_cores())  # measured by the first steps (ThreadProbe, below)
    if not is_main:
        events = ignore  # one report per step, from the main process
    set_seed(config.seed)
    lora.check_lora(config, accelerator.device.type)  # peft missing, QLoRA on a CPU: before any loading

    # --- data and base model -------------------------------------------------------------------
    dataset = load_run_dataset(run_dir)  # the posts; no `datasets` import (see data.py)
    tiny_dir = run_dir / TINY_BASE_DIRNAME
    with accelerator.main_process_first():
        if is_main and not resume:
            # A fresh run starts over: old checkpoints (and a tiny base built from older posts) go.
            shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
            shutil.rmtree(run_dir / lora.ADAPTER_DIRNAME, ignore_errors=True)  # a LoRA run's, if any
            if config.base_model == "tiny":
                shutil.rmtree(tiny_dir, ignore_errors=True)
        if is_main and resume:
            remove_broken_checkpoints(run_dir)  # what a kill mid-checkpoint left behind
        if resume and not checkpoint_folders(run_dir):
            raise TrainingError(
                f"--resume was given but {run_dir.name}/checkpoints/ holds no checkpoint"
                " (none written completely)",
                hint="run `huggingtweets train` without --resume to start over",
            )
        # The one place the base is resolved: packing, saving and the card read this value.
        base = resolve_base_model(
            config.base_model,
            tiny_dir=tiny_dir,
            tiny_texts=lambda: dataset.texts["train"],
            seed=config.seed,
            endpoint=endpoint,
        )
    base_dir, base_name = base.folder, base.name
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            base_dir,
            dtype=torch.float32,
            **base.overrides(config.attention_dropout),
            **lora.load_kwargs(config, accelerator.local_process_index),
        )
    except (OSError, ValueError) as err:
        raise TrainingError(
            f"Base model {base_name!r} cannot be loaded as a causal LM: {type(err).__name__}",
            hint="use `--base-model tiny`, `--base-model smollm2-135m` or a GPT-2 or Llama model",
        ) from err
    if getattr(model, "loss_type", None) is None:
        model.loss_type = "ForCausalLM"  # what transformers falls back to anyway, minus its warning
    parameters = sum(p.numel() for p in model.parameters())
    checkpointing = config.checkpointing_for(parameters)
    batch_size, accumulation = config.micro_batching(parameters, accelerator.device.type)
    accelerator.gradient_accumulation_steps = accumulation
    # Keep freed memory for the next step (small bases: faster) or give it back (large ones: smaller).
    allocator_policy = allocator_for(parameters)
    allocator.enter_context(allocator_policy.context())
    # Automatic threads: the first steps measure one thread against every core. A large base's step
    # takes seconds and a one-thread step about twice that: one round each.
    rounds = 1 if parameters >= LARGE_BASE_PARAMETERS else 2
    probe = ThreadProbe(probe_candidates, rounds=rounds) if probe_candidates else None
    if checkpointing:
        # Non-reentrant: works with frozen inputs (LoRA) and keeps each layer's RNG state for the replay.
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    lora_record: dict[str, Any] | None = None
    if config.lora_r:
        model = lora.apply_lora(model, config, base)  # base frozen; only the adapters train
        lora_record = {
            "r": config.lora_r,
            "alpha": lora.lora_alpha(config),
            "dropout": config.lora_dropout,
            "target_modules": lora.target_modules(config, base),
            "4bit": config.lora_4bit,
            **lora.parameter_counts(model),
        }
    context = getattr(model.config, "n_positions", None) or getattr(
        model.config, "max_position_embeddings", 1024
    )
    block_size = min(config.block_size, context)
    packed = tokenize_and_pack(
        dataset,
        tokenizer,
        block_size=block_size,
        cache_dir=run_dir / ".cache" / "tokens",
        tokenizer_dir=base_dir,
        accelerator=accelerator,
        prefix=base.prefix,
    )
    # The saved generation settings depend only on the posts: measured once, used by every save.
    sampling = {
        "max_new_tokens": post_max_new_tokens(tokenizer, dataset.texts["train"], context=context),
        "suppress_tokens": post_suppressed_tokens(tokenizer, dataset.texts["train"]),
    }
    if len(packed["train"]) == 0:
        raise TrainingError(
            "The training split has no tokens: expected posts with text",
            hint="run `huggingtweets prepare --run-dir DIR` again",
        )
    # Loaders get their own generator: each new iterator draws a seed from it, and drawing from the
    # global RNG instead would shift the dropout masks of a resumed run against an uninterrupted one.
    loader_rng = torch.Generator().manual_seed(config.seed)
    train_loader = DataLoader(packed["train"], batch_size=batch_size, shuffle=True, generator=loader_rng)
    eval_loader = DataLoader(packed["validation"], batch_size=batch_size, generator=loader_rng)

    # --- optimizer and schedule -------------------------------------------------------------
    learning_rate = config.peak_learning_rate(base_is_tiny=base.is_tiny)
    optimizer = make_optimizer(model, config, learning_rate)
    model, optimizer, train_loader, eval_loader = accelerator.prepare(
        model, optimizer, train_loader, eval_loader
    )
    steps_per_epoch = math.ceil(len(train_loader) / accumulation)  # optimizer steps
    epochs = config.epochs_for(base_is_tiny=base.is_tiny)
    total_steps = steps_per_epoch * epochs
    if config.max_steps:
        total_steps = min(total_steps, config.max_steps)
    if total_steps > MAX_STEPS:
        raise TrainingError(
            f"--epochs {epochs} plans {total_steps:,} optimizer steps ({steps_per_epoch:,} per epoch): "
            f"expected at most {MAX_STEPS:,}",
            hint="lower --epochs, or cap the run with --max-steps",
        )
    compiled = should_compile(config.compile, accelerator.device.type, total_steps)
    if compiled:
        # In place (nn.Module.compile): the weights keep their names in checkpoints and the saved model.
        accelerator.unwrap_model(model).compile()
    # The prepared scheduler steps once per process per optimizer step, so its horizon is scaled.
    scheduler = get_cosine_schedule_with_warmup(
        optimizer,
        num_warmup_steps=round(config.warmup_ratio * total_steps) * accelerator.num_processes,
        num_training_steps=total_steps * accelerator.num_processes,
    )
    scheduler = accelerator.prepare(scheduler)
    state = TrainState()
    accelerator.register_for_checkpointing(state)
    patience = config.early_stop_patience(base_is_tiny=base.is_tiny)

    def finish_epoch() -> None:
        """Evaluate; the best epoch so far is saved to DIR/model (all processes gather, main writes)."""
        with phases("eval"):
            improved = state.finish_epoch(evaluate(model, eval_loader, accelerator))
        if improved:
            with phases("save"):
                _save_model(accelerator, model, tokenizer, run_dir / "model", config, base, sampling)
        elif patience and state.epochs_without_improvement >= patience:
            state.stopped_early = True

    if resume:
        newest = max(checkpoint_folders(run_dir))  # the newest complete one: weights, optimizer, RNG, state
        accelerator.load_state(str(checkpoint_path(run_dir, newest)))
        accelerator.project_configuration.iteration = newest + 1
    else:
        with phases("eval"):
            state.initial_validation_loss = evaluate(model, eval_loader, accelerator)

    hyperparameters = {
        **config.hyperparameters(),
        "base_model": base_name,
        "block_size": block_size,
        "epochs": epochs,
        "learning_rate": learning_rate,
        **(
            {
                "lora_alpha": lora_record["alpha"],
                "lora_target_modules": ",".join(lora_record["target_modules"]),
            }
            if lora_record
            else {}
        ),
        "total_steps": total_steps,
        "num_processes": accelerator.num_processes,
        "batch_size": batch_size,
        "gradient_accumulation_steps": accumulation,
        "effective_batch_size": batch_size * accumulation * accelerator.num_processes,
    }
    accelerator.init_trackers(
        "huggingtweets", config={k: ("none" if v is None else v) for k, v in hyperparameters.items()}
    )

    # --- the loop ---------------------------------------------------------------------------
    phases.add("setup", time.perf_counter() - started - phases.split().get("eval", 0.0))
    session_tokens, clock = 0, TrainClock()  # the clock leaves out evaluation and checkpoint time
    stop_at = min(total_steps, config.stop_after_steps or total_steps)
    session_start_step = state.global_step
    while state.global_step < stop_at:
        model.train()
        train_loader.set_epoch(state.epoch)
        # Mid-epoch resume: skip the micro-batches this epoch already consumed before the checkpoint.
        batches = (
            accelerator.skip_first_batches(train_loader, state.micro_step_in_epoch)
            if state.micro_step_in_epoch
            else train_loader
        )
        for batch in batches:
            if probe is not None and probe.probing:
                torch.set_num_threads(probe.threads_for_next_step() or torch.get_num_threads())
                probe_started = time.perf_counter()
            with accelerator.accumulate(model):
                loss = model(input_ids=batch["input_ids"], labels=batch["labels"], use_cache=False).loss
                if config.debug_nan_at_step and state.global_step + 1 == config.debug_nan_at_step:
                    loss = loss * float("nan")
                # The one GPU->CPU sync of a micro-step, for the loss (guard, epoch mean, bar, log) and
                # the token count together, before backward so the device is never left waiting.
                loss_value, batch_tokens = torch.stack(
                    [loss.detach().float(), (batch["labels"] != -100).sum().float()]
                ).tolist()
                # Checked before backward, on all processes at once, so a NaN never reaches the
                # weights and every process stops together; the last checkpoint stays good.
                bad = not math.isfinite(loss_value)
                if accelerator.num_processes > 1:
                    flag = torch.tensor(float(bad), device=accelerator.device)
                    bad = bool(accelerator.reduce(flag, reduction="sum").item())
                if bad:
                    last = checkpoint_folders(run_dir)
                    raise TrainingError(
                        f"Loss became {loss_value} at step {state.global_step + 1}: training stopped"
                        + (
                            f"; the last good checkpoint is checkpoints/checkpoint_{max(last)}"
                            if last
                            else ""
                        ),
                        hint="lower --learning-rate, then `huggingtweets train --resume` or start over",
                    )
                accelerator.backward(loss)
                if accelerator.sync_gradients and config.max_grad_norm:
                    accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)

            if probe is not None and probe.probing:
                probe.step_done(time.perf_counter() - probe_started, int(batch_tokens))
                torch.set_num_threads(probe.threads_for_next_step() or torch.get_num_threads())
            n_tokens = int(batch_tokens) * accelerator.num_processes
            state.micro_step_in_epoch += 1
            state.tokens_seen += n_tokens
            session_tokens += n_tokens
            state.epoch_loss_sum += loss_value
            state.epoch_loss_count += 1
            if not accelerator.sync_gradients:
                continue
            state.global_step += 1
            seconds = clock.training_seconds()
            tokens_per_second = session_tokens / seconds
            steps_this_session = state.global_step - session_start_step
            events(
                TrainStep(
                    step=state.global_step,
                    total_steps=total_steps,
                    epoch=min(state.epoch + 1, epochs),
                    epochs=epochs,
                    loss=loss_value,
                    learning_rate=scheduler.get_last_lr()[0],
                    tokens_per_second=round(tokens_per_second, 1),
                    eta_seconds=round(seconds / steps_this_session * (total_steps - state.global_step), 1),
                )
            )
            accelerator.log(
                {
                    "train/loss": loss_value,
                    "train/lr": scheduler.get_last_lr()[0],
                    "train/tokens_per_second": tokens_per_second,
                },
                step=state.global_step,
            )
            if state.global_step >= stop_at:
                break
            if _cancel_requested(cancel, accelerator):
                with clock.paused():
                    saved = save_checkpoint(accelerator, run_dir, keep=config.keep_checkpoints)
                accelerator.end_training()
                raise Cancelled(
                    f"training cancelled after {state.global_step} of {total_steps} steps; "
                    f"the checkpoint is checkpoints/{saved.name}",
                    hint="run the same command again to resume from it",
                )
            # The epoch's last step is saved by the epoch-end checkpoint below: not twice at one step.
            epoch_ends_here = state.micro_step_in_epoch >= len(train_loader)
            if (
                config.checkpoint_every
                and state.global_step % config.checkpoint_every == 0
                and not epoch_ends_here
            ):
                with clock.paused(), phases("checkpoint"):
                    save_checkpoint(accelerator, run_dir, keep=config.keep_checkpoints)
        else:
            # A full pass: evaluate, record (and save the weights if best), checkpoint at the epoch's end.
            with clock.paused():
                finish_epoch()
                with phases("checkpoint"):
                    save_checkpoint(accelerator, run_dir, keep=config.keep_checkpoints)
            _log_epoch(accelerator, state, events, epochs)
            if state.stopped_early:
                break
            continue
        # Stopped at the last step (the final epoch's end lands here too), max_steps or stop_after_steps.
        with clock.paused():
            if state.global_step >= total_steps:
                finish_epoch()
            with phases("checkpoint"):
                save_checkpoint(accelerator, run_dir, keep=config.keep_checkpoints)
        if state.global_step >= total_steps:
            _log_epoch(accelerator, state, events, epochs)
        break
    train_seconds = clock.training_seconds()
    phases.add("train", train_seconds)

    # stop_after_steps: leave things as an interrupted run would
    if state.global_step < total_steps and not state.stopped_early:
        accelerator.end_training()
        if not is_main:
            return {}
        return {
            "stopped_after_steps": state.global_step,
            "total_steps": total_steps,
            "train_loss": state.running_train_loss(),
        }

    # --- summary: the best epoch's weights are in DIR/model already (saved when it ended) ---------
    summary: dict[str, Any] = {}
    if is_main:
        unwrapped = accelerator.unwrap_model(model, keep_torch_compile=False)
        summary = {
            "base_model": base_name,
            "base": {**base.record(), "config": _shown_config(unwrapped.config, base)},
            "hyperparameters": hyperparameters,
            "steps": state.global_step,
            "epochs_completed": state.epoch,
            # The saved weights are this epoch's (the lowest validation loss), not necessarily the last's.
            "best_epoch": state.best_epoch,
            "stopped_early": state.stopped_early,
            "patience": patience,
            "tokens_seen": state.tokens_seen,
            "train_tokens_per_epoch": packed["tokens"]["train"],
            "validation_tokens": packed["tokens"]["validation"],
            "train_loss": state.last_train_loss,
            "validation_loss": {
                "initial": state.initial_validation_loss,
                "best": state.best_validation_loss,
                "last": state.last_validation_loss,
            },
            "perplexity": {
                "initial": _ppl(state.initial_validation_loss),
                "best": _ppl(state.best_validation_loss),
                "last": _ppl(state.last_validation_loss),
            },
            "history": state.history,
            "lora": lora_record,
            "tokens_per_second": round(session_tokens / max(train_seconds, 1e-9), 1),
            "wall_time_s": round(time.perf_counter() - started, 2),
            "phases_s": phases.split(),
            "resumed": bool(resume),
            "compiled": compiled,
            "gradient_checkpointing": checkpointing,
            "allocator": allocator_policy.name,
            "peak_memory_mb": peak_resident_mb(),  # this process's: the training child's under `run`
            "thread_probe": probe.record() if probe is not None else None,
            **environment_summary(accelerator),
        }
        atomic_write_json(RunFolder(run_dir).training_summary, summary)
        if not config.keep_final_checkpoints:
            # Written after the summary: a run that dies in between still resumes from them.
            shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    accelerator.end_training()
    return summary


def _save_model(accelerator, model, tokenizer, out: Path, config, base, sampling: dict) -> None:
    """The model as it is now to ``out`` (atomically): every process syncs, only the main one writes.

    ``sampling``: the generation settings measured from the posts (``max_new_tokens``, ``suppress_tokens``).
    """
    from huggingtweets.train.saving import save_model

    accelerator.wait_for_everyone()
    unwrapped = accelerator.unwrap_model(model, keep_torch_compile=False)
    if config.lora_r:
        from huggingtweets.train import lora

        # The adapters merged into the weights: the bot loads with pipeline() and no peft.
        state_dict = lora.merged_state_dict(
            unwrapped,
            reload_from=base.folder if config.lora_4bit else None,
            overrides=base.overrides(config.attention_dropout),
        )
        if accelerator.is_main_process:
            with atomic_dir(out.parent / lora.ADAPTER_DIRNAME) as tmp:
                lora.save_adapter(unwrapped, tmp, base)
        unwrapped = unwrapped.get_base_model()
    else:
        # get_state_dict gathers sharded (FSDP/DeepSpeed) weights on every process; torch.compile's
        # wrapper prefixes every key with "_orig_mod.", which the saved model must not carry.
        state_dict = {k.removeprefix("_orig_mod."): v for k, v in accelerator.get_state_dict(model).items()}
    if accelerator.is_main_process:
        with atomic_dir(out) as tmp:
            save_model(
                unwrapped,
                tokenizer,
                tmp,
                state_dict=state_dict,
                dtype=config.save_dtype,
                prefix=base.prefix,
                **sampling,
            )
    accelerator.wait_for_everyone()


def _cancel_requested(cancel: CancelToken | None, accelerator) -> bool:
    """The main process's token decides, and every process learns it in the same step."""
    wanted = bool(cancel is not None and cancel.cancelled and accelerator.is_main_process)
    if accelerator.num_processes == 1:
        return wanted
    from accelerate.utils import broadcast_object_list

    return bool(broadcast_object_list([wanted], from_process=0)[0])


def _log_epoch(accelerator, state: TrainState, events: Events, epochs: int) -> None:
    """The finished epoch's metrics to the trackers (at its last optimizer step) and to ``events``."""
    events(
        EpochEnd(
            epoch=state.epoch,
            epochs=epochs,
            train_loss=state.last_train_loss,
            validation_loss=state.last_validation_loss,
            perplexity=_ppl(state.last_validation_loss),
        )
    )
    accelerator.log(
        {
            "eval/loss": state.last_validation_loss,
            "train/epoch_loss": state.last_train_loss,
            "eval/perplexity": _ppl(state.last_validation_loss),
        },
        step=state.global_step,
    )


def _ppl(loss: float | None) -> float | None:
    return None if loss is None else round(math.exp(min(loss, 50.0)), 4)


def _shown_config(model_config, base) -> dict[str, Any]:
    """The config fields the card's hyperparameter table shows for the base's family, as trained."""
    values = {name: getattr(model_config, name, None) for name in base.family.shown_fields}
    return {k: v for k, v in values.items() if isinstance(v, (str, int, float, bool))}
