"""Cross-field rules, each a small named check returning messages that say what to change."""

from __future__ import annotations

from collections.abc import Callable

from modelyard.config.schema import Config
from modelyard.config.schema.trainer import early_stopping_chosen

LM_METRICS = ["loss", "perplexity"]

# Which metrics a model produces, which losses an output accepts and what else its outputs
# need are its tasks' (modelyard.tasks: `metric_names`, `check`); which way each metric is
# better, `Task.metrics` (modelyard.metrics.directions).


def own_model_outputs_alone(config: Config) -> list[str]:
    """An output whose task builds the whole model (tags, text, a plugin's) cannot share it
    with outputs of other types: `build_model` would have nowhere to put them."""
    from modelyard.tasks import task_of

    own = next((o for o in config.outputs if task_of(o).own_model), None)
    others = [f"{o.name} ({o.type})" for o in config.outputs if own and o.type != own.type]
    if not others:
        return []
    return [
        f"outputs: a model with a {own.type} output can have only {own.type} outputs, but "
        f"{', '.join(others)} {'is' if len(others) == 1 else 'are'} not; train it as a separate model"
    ]


def outputs_fit_their_tasks(config: Config) -> list[str]:
    """Each output's own rules, as its task states them (losses, the inputs it needs)."""
    from modelyard.tasks import task_of

    return [
        problem
        for i, output in enumerate(config.outputs)
        for problem in task_of(output).check(config, i)
    ]


def names_are_unique(config: Config) -> list[str]:
    problems = []
    seen: dict[str, str] = {}
    for kind, features in (("inputs", config.inputs), ("outputs", config.outputs)):
        for i, feature in enumerate(features):
            if feature.name in seen:
                problems.append(
                    f"{kind}[{i}].name: '{feature.name}' is already used by {seen[feature.name]}; names must be unique"
                )
            seen.setdefault(feature.name, f"{kind}[{i}]")
    return problems


def split_hash_settings_fit(config: Config) -> list[str]:
    split = config.data.split
    if split.id_column is not None and split.by != "hash":
        return ["data.split.id_column: applies to by: hash; add by: hash, or remove id_column"]
    if split.column is not None and split.by == "hash":
        return [
            "data.split: column gives each row its split, by: hash computes one; keep one of them"
        ]
    return []


def stratify_fits_split(config: Config) -> list[str]:
    """An explicit `stratify` needs a random ratio split; `auto` quietly does nothing else."""
    split = config.data.split
    if split.stratify in ("auto", "none"):
        return []
    if split.by == "hash":
        return [
            "data.split.stratify: applies to random splits, and by: hash puts each row by its "
            "hash; remove stratify, or remove by: hash"
        ]
    if split.column is not None:
        return [
            "data.split.stratify: applies to random splits, and data.split.column gives each "
            "row its split; remove stratify, or remove column"
        ]
    return []


def balanced_sampling_fits(config: Config) -> list[str]:
    """`data.sampling: balanced` draws by the classes of a single classifier output."""
    from modelyard.tasks import task_of

    if config.data.sampling != "balanced":
        return []
    outputs = config.outputs
    if len(outputs) != 1 or not task_of(outputs[0]).stratifies:
        return [
            "data.sampling: balanced draws rows by the class of a single category or binary "
            "output; use the outputs' class_weights instead, or sampling: shuffle"
        ]
    if config.data.streaming is True:
        return [
            "data.sampling: balanced needs the training rows in memory; set data.streaming: "
            "false, or use the output's class_weights"
        ]
    return []


def split_leaves_training_data(config: Config) -> list[str]:
    split = config.data.split
    held_out = (0 if config.data.validation else split.validation or 0) + (
        0 if config.data.test else split.test or 0
    )
    if split.column is None and held_out >= 0.95:
        return [
            f"data.split: validation + test = {held_out:g} leaves too little to train on; keep it under 0.95"
        ]
    return []


def early_stopping_metric_exists(config: Config) -> list[str]:
    stopping = config.trainer.early_stopping
    if stopping is None:
        return []
    known = ["loss"] + metric_names(config)
    if stopping.metric in known:
        return []
    return [
        f"trainer.early_stopping.metric: '{stopping.metric}' is not a validation metric of this model; known: {', '.join(known)}"
    ]


def plateau_needs_validation(config: Config) -> list[str]:
    split = config.data.split
    has_validation = config.data.validation or (split.validation or 0) > 0 or split.column
    if config.trainer.schedule.type == "plateau" and not has_validation:
        return [
            "trainer.schedule.type: plateau needs a validation split; set data.split.validation or data.validation"
        ]
    if early_stopping_chosen(config.trainer) and not has_validation:
        return [
            "trainer.early_stopping: needs a validation split; set data.split.validation or data.validation"
        ]
    return []


def optimizer_settings_fit(config: Config) -> list[str]:
    optimizer = config.trainer.optimizer
    if optimizer.type == "sgd" and optimizer.nesterov and optimizer.momentum == 0:
        return [
            "trainer.optimizer.nesterov: nesterov needs momentum > 0; set momentum (e.g. 0.9) or nesterov: false"
        ]
    return []


def strategy_settings_fit(config: Config) -> list[str]:
    trainer = config.trainer
    if trainer.strategy == "fsdp" and trainer.l1:
        return [
            "trainer.l1: the L1 penalty is not available with trainer.strategy fsdp (each "
            "process holds only a shard of the weights); remove it, use "
            "trainer.optimizer.weight_decay, or strategy: ddp"
        ]
    return []


def encoder_shapes_fit(config: Config) -> list[str]:
    problems = []
    for i, feature in enumerate(config.inputs):
        encoder = feature.encoder
        if encoder.type == "transformer" and encoder.dim % encoder.heads:
            problems.append(
                f"inputs[{i}].encoder: dim {encoder.dim} is not divisible by heads {encoder.heads}; change one of them"
            )
        if feature.type == "text" and encoder.type == "bow":
            problems += _bow_ranges(encoder, f"inputs[{i}].encoder")
        if (
            feature.type in ("image", "audio")
            and encoder.type == "resnet"
            and len(encoder.channels) != len(encoder.blocks)
        ):
            problems.append(
                f"inputs[{i}].encoder: channels has {len(encoder.channels)} stages but blocks has {len(encoder.blocks)}; give both the same length"
            )
    return problems


def crop_problem(key: str, crop: int, height: int, width: int) -> str | None:
    """`augment.random_crop` pads each side by `crop` pixels and cuts back to (height, width)
    at a random offset: from half the smaller side on, a crop can keep less than half of the
    image (and from the whole side on, none of it: training sees padding and learns nothing)."""
    side = min(height, width)
    if 2 * crop < side:
        return None
    return (
        f"{key}: {crop} pixels of padding is too much for "
        f"{height}x{width} images (a crop could keep less than half of the image); use at most {(side - 1) // 2}"
    )


def image_crop_fits(config: Config) -> list[str]:
    """With height and width given, random_crop is checked here; otherwise when preprocessing
    learns the size from the first training image."""
    problems = []
    for i, feature in enumerate(config.inputs):
        prep = getattr(feature, "preprocessing", None)
        if feature.type == "image" and prep.height and prep.width:
            key = f"inputs[{i}].preprocessing.augment.random_crop"
            problem = crop_problem(key, prep.augment.random_crop, prep.height, prep.width)
            problems += [problem] if problem else []
    return problems


def _bow_ranges(encoder, where: str) -> list[str]:
    """The bow encoder's n-gram ranges are [from, to] with from <= to, and not both null."""
    problems = [
        f"{where}.{key}: {value} is not a range [from, to] of n-gram lengths; write [{value[1]}, {value[0]}]"
        for key in ("words", "chars")
        if (value := getattr(encoder, key)) and value[0] > value[1]
    ]
    if not encoder.words and not encoder.chars:
        problems.append(
            f"{where}: words and chars are both null, so there are no n-grams; set one, e.g. words: [1, 2]"
        )
    return problems


# Text preprocessing settings an encoder ignores, and why (said instead of ignored silently).
_IGNORED_BY_ENCODER = {
    "bow": (
        ("tokenizer", "vocab_size", "min_frequency", "max_length"),
        "the bow encoder, which reads word and character n-grams; remove them (its "
        "encoder.min_count, max_ngrams and per_text play their part)",
    ),
    "pretrained": (
        ("tokenizer", "vocab_size", "min_frequency", "lowercase"),
        "a pretrained encoder, which brings its own tokenizer; remove them",
    ),
}


def text_settings_the_encoder_ignores(config: Config) -> list[str]:
    """Tokenizer settings that a bow or pretrained text encoder would silently ignore."""
    from modelyard.config.schema import TextPreprocessing

    defaults = TextPreprocessing()
    problems = []
    for i, feature in enumerate(config.inputs):
        if feature.type != "text" or feature.encoder.type not in _IGNORED_BY_ENCODER:
            continue
        keys, why = _IGNORED_BY_ENCODER[feature.encoder.type]
        changed = [k for k in keys if getattr(feature.preprocessing, k) != getattr(defaults, k)]
        if changed:
            problems.append(
                f"inputs[{i}].preprocessing: {', '.join(changed)} do not apply to {why}"
            )
    return problems


def metric_names(config: Config) -> list[str]:
    """Validation metric names as they appear in metrics.json and history.csv."""
    from modelyard.tasks import task_of

    prefix = len(config.outputs) > 1
    return [
        f"{out.name}.{m}" if prefix else m
        for out in config.outputs
        for m in task_of(out).metric_names(out)
    ]


def tracking_settings_fit(config) -> list[str]:
    """An experiment needs a store; a sqlite store needs a file (`sqlite://` alone is an
    in-memory database, gone when the run ends)."""
    settings = config.tracking
    if settings.mlflow_experiment is not None and settings.mlflow is None:
        return [
            "tracking.mlflow_experiment: applies to MLflow tracking; add tracking.mlflow: <tracking URI> (e.g. sqlite:///mlruns.db), or remove mlflow_experiment"
        ]
    uri = settings.mlflow or ""
    if uri.startswith("sqlite:") and (
        not uri.startswith("sqlite:///") or uri.removeprefix("sqlite:///") in ("", ":memory:")
    ):
        return [
            f"tracking.mlflow: '{uri}' names no database file; write sqlite:///relative/path.db (from the config's folder) or sqlite:////absolute/path.db"
        ]
    return []


GBDT_INPUTS = ("number", "binary", "category")
GBDT_OUTPUTS = ("category", "binary", "number")
GBDT_LOSSES = ("cross_entropy", "binary_cross_entropy", "mse", "mae")


def gbdt_settings_fit(config: Config) -> list[str]:
    """`model_type: gbdt` takes tables of numbers, binaries and categories, predicts values per
    row, and has no network: settings of one (combiner, encoders, the trainer's early stopping,
    FSDP) are errors, not silently ignored. A `gbdt` section needs `model_type: gbdt`."""
    if config.model_type != "gbdt":
        if config.gbdt is None:
            return []
        return [
            f"gbdt: applies to model_type: gbdt, but model_type is {config.model_type}; add "
            "model_type: gbdt, or remove the gbdt section"
        ]
    return [*_gbdt_inputs(config), *_gbdt_outputs(config), *_gbdt_others(config)]


def _gbdt_inputs(config: Config) -> list[str]:
    problems = []
    for i, f in enumerate(config.inputs):
        if f.type not in GBDT_INPUTS:
            problems.append(
                f"inputs[{i}]: input '{f.name}' is {f.type}, but model_type gbdt takes only "
                f"{', '.join(GBDT_INPUTS)} inputs; use model_type: neural, or remove the input"
            )
        elif f.encoder != type(f).model_fields["encoder"].get_default(call_default_factory=True):
            problems.append(
                f"inputs[{i}].encoder: model_type gbdt has no encoders (the trees read the "
                "preprocessed column); remove the encoder"
            )
    return problems


def _gbdt_outputs(config: Config) -> list[str]:
    problems = []
    for i, o in enumerate(config.outputs):
        if o.type not in GBDT_OUTPUTS:
            problems.append(
                f"outputs[{i}]: output '{o.name}' is {o.type}, but model_type gbdt predicts only "
                f"{', '.join(GBDT_OUTPUTS)} outputs; use model_type: neural"
            )
        elif o.loss not in GBDT_LOSSES:
            problems.append(
                f"outputs[{i}].loss: model_type gbdt supports {', '.join(GBDT_LOSSES)}, not "
                f"{o.loss}; use mse or mae"
            )
        elif getattr(o, "label_smoothing", 0.0):
            problems.append(
                f"outputs[{i}].label_smoothing: not available with model_type gbdt; remove it"
            )
    return problems


def _gbdt_others(config: Config) -> list[str]:
    problems = []
    if config.combiner != type(config).model_fields["combiner"].get_default():
        problems.append(
            "combiner: model_type gbdt has no combiner (one tree ensemble per output reads all "
            "inputs); remove the combiner section"
        )
    if config.trainer.strategy == "fsdp":
        problems.append(
            "trainer.strategy: fsdp shards a network; model_type gbdt trains in one process; "
            "remove it"
        )
    if early_stopping_chosen(config.trainer):
        problems.append(
            "trainer.early_stopping: model_type gbdt stops by gbdt.early_stopping (boosting "
            "iterations without a better validation loss); write gbdt: {early_stopping: "
            f"{config.trainer.early_stopping.patience}}} instead"
        )
    if config.data.streaming is True:
        problems.append(
            "data.streaming: model_type gbdt fits on the training rows in memory; remove it "
            "(or use model_type: neural)"
        )
    if config.tracking.mlflow is not None:
        problems.append(
            "tracking.mlflow: not recorded for model_type gbdt yet; remove it (history.csv and "
            "metrics.json hold the run's record)"
        )
    return problems


def fairness_fits(config: Config) -> list[str]:
    """evaluation.sensitive needs a classification output; a mitigation a binary one and
    validation rows; a sensitive column is not an output's label."""
    evaluation = config.evaluation
    if evaluation is None:
        return []
    from modelyard.tasks import task_of

    described = ", ".join(f"'{o.name}' ({o.type})" for o in config.outputs)
    if not any(task_of(o).baseline == "classifier" for o in config.outputs):
        return [
            f"evaluation.sensitive: per-group metrics are for classification outputs (binary or "
            f"category), and this config's outputs are {described}; remove the evaluation section"
        ]
    problems = [
        f"evaluation.sensitive: '{o.column or o.name}' is output '{o.name}''s label; name a "
        "column that groups the rows (e.g. sex)"
        for o in config.outputs
        if (o.column or o.name) in evaluation.sensitive
    ]
    if evaluation.mitigation is None:
        return problems
    if not any(o.type == "binary" for o in config.outputs):  # decisions of a positive class
        problems.append(
            f"evaluation.mitigation: thresholds need a binary output, and this config's outputs "
            f"are {described}; make the output binary or remove evaluation.mitigation"
        )
    split = config.data.split
    if not (config.data.validation or (split.validation or 0) > 0 or split.column):
        problems.append(
            "evaluation.mitigation is fitted on validation rows (never test); set "
            "data.split.validation or data.validation"
        )
    return problems


def privacy_settings_fit(config) -> list[str]:
    """trainer.privacy (DP-SGD): one of epsilon / noise_multiplier, and no setting that would
    break its guarantee or its accounting (each is refused, not silently changed)."""
    privacy = config.trainer.privacy
    if privacy is None:
        return []
    task = getattr(config, "task", None)
    if task in (
        "language_model",
        "recommendation",
        "link_prediction",
        "question_answering",
        "object_detection",
        "text_to_speech",
        "vocoder",
        "image_generation",
    ):
        return [
            f"trainer.privacy: differentially private training is available for models of "
            f"inputs and outputs, not yet for task {task}; remove trainer.privacy"
        ]
    if (privacy.epsilon is None) == (privacy.noise_multiplier is None):
        which = "neither" if privacy.epsilon is None else "both"
        return [
            f"trainer.privacy: give exactly one of epsilon (the budget for the run: the noise "
            f"is chosen to spend it) or noise_multiplier (the noise: epsilon is what the run "
            f"spends); {which} given"
        ]
    return [message for key, message in _privacy_conflicts(config) if key]


def _privacy_conflicts(config) -> list[tuple[bool, str]]:
    t, why = config.trainer, "trainer.privacy"
    return [
        (
            config.model_type == "gbdt",
            f"{why}: gradient-boosted trees are not trained by gradient descent; use "
            "model_type: neural, or remove trainer.privacy",
        ),
        (
            t.precision != "fp32",
            f"trainer.precision: {why} trains in fp32 (per-row gradients and their clipping "
            "in bf16 would change the noise's scale); set precision: fp32",
        ),
        (
            t.gradient_accumulation > 1,
            f"trainer.gradient_accumulation: with {why} each optimizer step is one Poisson "
            "batch, as the accountant counts them; raise batch_size instead",
        ),
        (
            t.gradient_clip is not None,
            f"trainer.gradient_clip: {why} clips each row's gradient to "
            "trainer.privacy.max_grad_norm instead; remove gradient_clip",
        ),
        (
            t.l1 > 0,
            f"trainer.l1: the L1 penalty's gradient would bypass {why}'s per-row clipping; "
            "remove l1 (weight_decay is fine)",
        ),
        (
            t.strategy == "fsdp",
            f"trainer.strategy: {why} runs under ddp (Opacus' distributed optimizer); set "
            "strategy: ddp",
        ),
        (
            config.data.sampling == "balanced",
            f"data.sampling: balanced draws rows by class; {why} draws Poisson batches, as its "
            "accountant assumes; use the output's class_weights instead",
        ),
        (
            config.data.streaming is True,
            f"data.streaming: {why} draws Poisson batches from the training rows in memory; "
            "set data.streaming: false",
        ),
    ]


CHECKS: list[Callable[[Config], list[str]]] = [
    outputs_fit_their_tasks,
    own_model_outputs_alone,
    names_are_unique,
    split_leaves_training_data,
    split_hash_settings_fit,
    stratify_fits_split,
    balanced_sampling_fits,
    early_stopping_metric_exists,
    plateau_needs_validation,
    optimizer_settings_fit,
    strategy_settings_fit,
    encoder_shapes_fit,
    image_crop_fits,
    text_settings_the_encoder_ignores,
    tracking_settings_fit,
    gbdt_settings_fit,
    fairness_fits,
    privacy_settings_fit,
]


def backbones_fit(config, base) -> list[str]:
    """`freeze: N` of a pretrained encoder asks for at most the checkpoint's number of layers,
    read from its config.json alone (no weights are loaded). `base`: the config's folder."""
    problems = []
    for i, feature in enumerate(getattr(config, "inputs", [])):
        encoder = feature.encoder
        if encoder.type != "pretrained" or not isinstance(encoder.freeze, int):
            continue
        from modelyard.models.encoders.pretrained import layer_count, resolve_checkpoint

        layers = layer_count(resolve_checkpoint(encoder.model, base))
        if layers is not None and encoder.freeze > layers:
            problems.append(
                f"inputs[{i}].encoder.freeze: {encoder.freeze} layers asked for, but '{encoder.model}' "
                f"has {layers}; use at most {layers} (or all)"
            )
    return problems


def lm_shapes_fit(config) -> list[str]:
    model = config.model
    if model.hidden % model.heads:
        return [
            f"model.hidden {model.hidden} is not divisible by model.heads {model.heads}; change one of them"
        ]
    return []


def lm_early_stopping_metric(config) -> list[str]:
    stopping = config.trainer.early_stopping
    if stopping is not None and stopping.metric not in LM_METRICS:
        return [
            f"trainer.early_stopping.metric: '{stopping.metric}' is not a language-model metric; use loss or perplexity"
        ]
    return []


LM_CHECKS = [
    lm_shapes_fit,
    lm_early_stopping_metric,
    optimizer_settings_fit,
    tracking_settings_fit,
    strategy_settings_fit,
]


def run_all(config) -> list[str]:
    from modelyard.kinds import KINDS, part

    checks = CHECKS  # (these hold privacy_settings_fit; every kind's trainer has the key)
    if config.task in KINDS:
        checks = [*part(config.task, "config_checks"), privacy_settings_fit]
    return [problem for check in checks for problem in check(config)]
