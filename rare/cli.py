"""The ``rare`` command line: ``rare <command> ...`` (also ``python -m rare``).

Commands that need torch import it lazily, so ``rare infer`` works in the torch-free serving install.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from rare.errors import RareError

log = logging.getLogger("rare")
# modules that only the [train] extra installs: a command that needs one says so instead of a traceback
TRAINING_EXTRAS = {"torch", "onnx", "onnxconverter_common", "lmdb", "albumentations", "tqdm"}


def _config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", required=True, help="YAML config (PaddleOCR layout)")
    parser.add_argument(
        "-o",
        "--opt",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="override config values, e.g. -o Global.epoch_num=10 Train.loader.num_workers=2",
    )


def cmd_convert_paddle(args: argparse.Namespace) -> int:
    from rare.export.commands import convert_paddle

    convert_paddle(args.config, args.pdparams, args.out, args.opt)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from rare.export.commands import export

    export(args.config, args.opt)
    return 0


def cmd_average(args: argparse.Namespace) -> int:
    from rare.export.average import average_checkpoints

    average_checkpoints(args.checkpoints, args.out)
    log.info("wrote %s: the mean of %d checkpoints", args.out, len(args.checkpoints))
    return 0


def cmd_infer(args: argparse.Namespace) -> int:
    from rare.infer import run_infer

    failed = run_infer(
        args.image_dir,
        args.rec_model_dir,
        args.rec_image_shape,
        args.rec_char_dict_path,
        args.use_space_char,
        args.rec_batch_num,
    )
    return 1 if failed else 0


def cmd_train(args: argparse.Namespace) -> int:
    from rare.train.loop import train_from_config

    train_from_config(args.config, args.opt)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from rare.train.evaluate import eval_from_config, write_json

    metrics = eval_from_config(args.config, args.opt)
    if args.json:
        write_json(metrics, args.json)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from rare.train.predict import predict_from_config

    return predict_from_config(args.config, args.opt)


def cmd_synth(args: argparse.Namespace) -> int:
    from rare.data.synth_cli import run_synth

    return run_synth(args)


def cmd_fonts(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rare.synth.fontsource import fetch_fonts

    listing = fetch_fonts(Path(args.list), Path(args.out), args.registry)
    print(listing)  # noqa: T201 - the font list to pass as synth.fonts
    return 0


def _add_model_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert-paddle", help="import a PaddleOCR .pdparams into a project checkpoint")
    p.add_argument("--config", "-c", required=True, help="the config the checkpoint was trained with")
    p.add_argument("--pdparams", required=True, help="PaddleOCR best_accuracy.pdparams")
    p.add_argument("--out", required=True, help="checkpoint to write (.pt)")
    p.add_argument("-o", "--opt", nargs="+", default=[], metavar="KEY=VALUE")
    p.set_defaults(func=cmd_convert_paddle)

    p = sub.add_parser("export", help="export Global.pretrained_model to Global.save_inference_dir (ONNX)")
    _config_args(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("average", help="average the weights of checkpoints of one run (its last evaluations)")
    p.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT", help="two or more .pt checkpoints of one model")
    p.add_argument("--out", required=True, help="checkpoint to write (.pt, no optimizer state)")
    p.set_defaults(func=cmd_average)

    p = sub.add_parser("infer", help="recognize images with an exported model (ONNX Runtime)")
    p.add_argument("--image_dir", required=True, help="an image file or a folder of images")
    p.add_argument("--rec_model_dir", required=True, help="folder with model.onnx and rare.json")
    p.add_argument("--rec_image_shape", default="3,32,100")
    p.add_argument("--rec_char_dict_path", default=None, help="dictionary file (default: the model's)")
    p.add_argument("--use_space_char", action="store_true", help="append a space to --rec_char_dict_path")
    p.add_argument("--rec_batch_num", type=int, default=6)
    p.set_defaults(func=cmd_infer)

    for name, func, text in (
        ("train", cmd_train, "train (single device; multi-GPU with torchrun --nproc_per_node N -m rare train)"),
        ("eval", cmd_eval, "word accuracy and normalized edit distance on Eval datasets"),
        ("predict", cmd_predict, "recognize Global.infer_img (file or folder) with a checkpoint"),
    ):
        p = sub.add_parser(name, help=text)
        _config_args(p)
        p.set_defaults(func=func)
        if name == "eval":
            p.add_argument("--json", help="also write the table as JSON: {dataset: {samples, acc, norm_edit_dis}}")


def _add_data_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="render synthetic word images into an LMDB or a folder, or time the renderer")
    p.add_argument("--out", help="output LMDB (or folder with --format folder)")
    p.add_argument("--count", type=int, default=1000, help="number of images")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--format", choices=("lmdb", "folder"), default="lmdb")
    p.add_argument("--workers", type=int, default=1, help="processes rendering in parallel")
    p.add_argument("--fonts", default=None, help="font list file or folder (default: the checked-in list)")
    p.add_argument("--wordlist", default=None, help="one word per line (default: /usr/share/dict/words)")
    p.add_argument("--benchmark", action="store_true", help="only time the renderer: images/s per core")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("fonts", help="fetch the pinned Google Fonts faces for training (npm registry)")
    p.add_argument("--list", default="requirements/fonts.txt", help="pinned @fontsource packages")
    p.add_argument("--out", default=".cache/fonts", help="folder for the faces and their fonts.txt")
    p.add_argument("--registry", default=None, help="npm registry URL (default: $RARE_NPM_REGISTRY or npmjs.org)")
    p.set_defaults(func=cmd_fonts)


def cmd_recognize(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from rare.recognize import run_recognize

    key = args.api_key or os.environ.get("RARE_API_KEY")
    words = Path(args.lexicon).read_text(encoding="utf-8").split() if args.lexicon else None
    return run_recognize(
        args.url, args.paths, Path(args.out), args.resume, key, args.concurrency, words, args.lexicon_name
    )


def _add_client_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recognize", help="recognize files, folders or path lists through a running gateway (JSONL)")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders (recursive), or .txt path lists")
    p.add_argument("--url", required=True, help="the gateway, e.g. http://127.0.0.1:8080")
    p.add_argument("--out", required=True, help="JSON Lines output: one line per image")
    p.add_argument("--resume", action="store_true", help="skip the paths already in --out, append the rest")
    p.add_argument("--api-key", default=None, help="the gateway's API key (default: $RARE_API_KEY)")
    p.add_argument("--concurrency", type=int, default=4, help="requests in flight at once")
    p.add_argument("--lexicon", default=None, help="a file of candidate words (one a line): each line gets the best")
    p.add_argument("--lexicon-name", default=None, help="a lexicon the gateway holds (RARE_LEXICONS), by name")
    p.set_defaults(func=cmd_recognize)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rare", description="RARE scene-text recognition")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_model_commands(sub)
    _add_data_commands(sub)
    _add_client_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except RareError as exc:
        print(f"rare {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        if exc.name == "httpx":
            print(f"rare {args.command}: needs the client extra (pip install 'rare-ocr[client]')", file=sys.stderr)
            return 2
        if exc.name not in TRAINING_EXTRAS:
            raise
        print(
            f"rare {args.command}: needs the training extras (pip install -e '.[train]', or make test): "
            f"no module named {exc.name!r}",
            file=sys.stderr,
        )
        return 2
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"rare {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"rare {args.command}: interrupted", file=sys.stderr)
        return 130
