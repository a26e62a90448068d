"""test.py's work: the test set named by the arguments (or the bundled samples), the checkpoint, the
evaluation, the reports."""

from dataclasses import replace
from pathlib import Path
from typing import Any

from datasets.layouts import LAYOUTS, Layout, layout_from_args
from datasets.samples import SAMPLES_DIR, TEST_PATH, ensure_samples
from datasets.testing import TestDataset
from models import DEMO_WEIGHTS, checkpoint_config, load_model, needs_label, network_name, set_sampling
from utils.checkpoint import check_writable
from utils.device import describe_device, resolve_device, set_tf32
from utils.errors import UserError

from .evaluation import evaluate
from .inference import frame_multiple
from .reports import full_frame_protocol, write_reports

PAPER_DDIM_STEPS = 10  # LF-Diff's Table 1 rows are at S = 10 [L172]


def test_set_from_args(args: Any) -> tuple[Layout, Path, str | None]:
    """(layout, test folder, dataset whose paper row applies). With neither --dataset nor --dataset_dir,
    the bundled sample scenes (synthesized on first use), which have no paper row."""
    if args.dataset is None and args.dataset_dir is None:
        root = ensure_samples()
        return replace(LAYOUTS["kalantari"], dataset_dir=str(SAMPLES_DIR), test_path=TEST_PATH), root, None
    layout = layout_from_args(args)
    return layout, Path(layout.dataset_dir) / layout.test_path, args.dataset or "kalantari"


def run_test(args: Any) -> int:
    """test.py: load the checkpoint, evaluate the test split, write and print the tables."""
    device = resolve_device(args.device)
    set_tf32(args.tf32)
    if not args.pretrained_model and (args.model or "afunet") not in DEMO_WEIGHTS:
        raise UserError(f"no bundled {args.model} weights: give its checkpoint with --pretrained_model")
    checkpoint = args.pretrained_model or DEMO_WEIGHTS[args.model or "afunet"]
    model, ckpt = load_model(checkpoint)  # before the data: a bad file is reported at once
    if args.model and network_name(model) != args.model:
        raise UserError(f"{checkpoint}: holds {network_name(model)} weights, not {args.model} (--model)")
    try:
        sampling = set_sampling(model, args.seed, args.ddim_steps)
    except ValueError as e:
        raise UserError(f"{checkpoint}: --ddim_steps: {e}") from None
    model.to(device)
    layout, root, paper_row = test_set_from_args(args)
    dataset = TestDataset(root, layout)
    save_dir = Path(args.save_dir)
    problem = f"{save_dir}: --save_dir is a file, not a folder" if save_dir.is_file() else None
    problem = problem or check_writable(save_dir, 0, "--save_dir")
    if problem:
        raise UserError(problem)
    print(f"{len(dataset)} scenes in {root}; checkpoint {checkpoint}; device {device}")
    oracle = needs_label(model)
    dataset.check(require_label=oracle)  # every scene readable before the first is predicted
    if oracle:
        print("oracle: this LF-Diff stage-1 network reads its prior from each scene's label (Table 3's s1), "
              "an upper bound, not a result from the photos alone")  # fmt: skip
    if sampling:
        print(f"sampling: seed {sampling['seed']}, {sampling['ddim_steps']} DDIM steps")
        if sampling["ddim_steps"] != PAPER_DDIM_STEPS:
            paper_row = None  # Table 1 is at S = 10
    ppd = args.hdrvdp_ppd
    recipe = args.hdrvdp or ("sctnet" if ppd else None)
    result = evaluate(model, dataset, device, save_dir, args.save_inputs, args.tile, args.tile_overlap,
                      hdrvdp_recipe=recipe, hdrvdp_ppd=ppd)  # fmt: skip
    protocol = full_frame_protocol(frame_multiple(model))
    if args.tile:
        protocol = f"tiled: {args.tile}x{args.tile} tiles, {args.tile_overlap} px overlap (not the paper protocol)"
    meta = {"checkpoint": str(checkpoint), "model_config": checkpoint_config(model),
            "checkpoint_meta": ckpt.get("meta"), "dataset": layout.__dict__, "test_root": str(root),
            "device": str(device), "hardware": describe_device(device), "protocol": protocol, "oracle": oracle,
            "sampling": sampling, "hdrvdp2": hdrvdp_setting(recipe, ppd)}  # fmt: skip
    table = write_reports(result, save_dir, meta, paper_row)
    print(table)
    print(f"wrote results.csv, results.json, results.md and predictions to {save_dir}")
    return 0


def hdrvdp_setting(recipe: str | None, ppd: float | None) -> dict | None:
    """What results.json records about the HDR-VDP-2 column (None without it)."""
    if not recipe:
        return None
    from utils.metrics.hdrvdp.recipes import RECIPES  # only with the column: see evaluation.evaluate

    return RECIPES[recipe].describe(ppd)
