"""``foleystudio models list|info|import|remove|pull|codec``: the model bundles this installation can use."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``models`` sub-command and its actions."""
    parser = subparsers.add_parser(
        "models",
        help="list, inspect and pull model bundles",
        description="Model bundles are folders of safetensors weights plus a manifest.json. They are "
        "searched in $FOLEYSTUDIO_MODELS, the user's models folder and the packaged models/ folder.",
    )
    actions = parser.add_subparsers(dest="models_action", metavar="ACTION")

    list_parser = actions.add_parser("list", help="list the installed bundles")
    list_parser.add_argument("--json", action="store_true", help="print JSON")
    list_parser.set_defaults(func=run_list)

    info_parser = actions.add_parser("info", help="describe one bundle (configs, tensors, training)")
    info_parser.add_argument("name", metavar="NAME", help="bundle name or folder")
    info_parser.add_argument("--verify", action="store_true", help="also check every file's sha256")
    info_parser.add_argument("--json", action="store_true", help="print JSON")
    info_parser.set_defaults(func=run_info)

    import_parser = actions.add_parser(
        "import", help="install a bundle folder or .zip/.tar.gz archive (sha256-checked first)"
    )
    import_parser.add_argument("path", metavar="PATH", help="bundle folder or archive")
    import_parser.add_argument("--dest", help="models folder to install into (default: the user's)")
    import_parser.add_argument(
        "--overwrite", action="store_true", help="replace an installed bundle of the same name"
    )
    import_parser.set_defaults(func=run_import)

    remove_parser = actions.add_parser("remove", help="remove an installed bundle (not the shipped one)")
    remove_parser.add_argument("name", metavar="NAME", help="bundle name")
    remove_parser.set_defaults(func=run_remove)

    pull_parser = actions.add_parser(
        "pull", help="download a bundle (archive URL or Hugging Face repository) and install it"
    )
    pull_parser.add_argument(
        "source",
        metavar="SOURCE",
        help="https:// or file:// URL of a .zip/.tar.gz bundle (needs --sha256), or a Hugging Face "
        "repository OWNER/NAME[@REVISION] (hf: prefix optional)",
    )
    pull_parser.add_argument("--sha256", help="expected sha256 of the archive (URLs)")
    pull_parser.add_argument("--revision", help="branch, tag or commit of a Hugging Face repository")
    pull_parser.add_argument("--dest", help="models folder to install into (default: the user's)")
    pull_parser.add_argument(
        "--overwrite", action="store_true", help="replace an installed bundle of the same name"
    )
    pull_parser.set_defaults(func=run_pull)

    codec_parser = actions.add_parser(
        "codec",
        help="encode and decode a recording through a bundle's codec (the best the model can sound)",
        description="Encode IN to the bundle's tokens and decode them again, with the bundle's vocoder when it "
        "has one (else Griffin-Lim), and write the result. Prints the spectral distances of the round trip.",
    )
    codec_parser.add_argument("name", metavar="NAME", help="bundle name or folder")
    codec_parser.add_argument("input", metavar="IN", help="audio file (WAV, FLAC, OGG, ...)")
    codec_parser.add_argument(
        "-o", "--output", required=True, metavar="OUT", help="output .wav (32-bit float) or .flac (24-bit)"
    )
    codec_parser.add_argument(
        "--griffin-lim",
        action="store_true",
        help="decode with Griffin-Lim even when the bundle has a vocoder",
    )
    codec_parser.set_defaults(func=run_codec)

    parser.set_defaults(func=lambda args: parser.print_help() or 0)


def run_list(args: argparse.Namespace) -> int:
    from foleystudio.ml.model_bundle import list_bundles, model_dirs

    bundles = list_bundles()
    if args.json:
        print(
            json.dumps(
                {
                    "search_path": [{"source": s, "path": str(p)} for s, p in model_dirs()],
                    "bundles": [b.to_dict() for b in bundles],
                },
                indent=2,
            )
        )
        return 0
    if not bundles:
        print("no model bundles found; searched:")
        for source, path in model_dirs():
            print(f"  {source:<8}  {path}")
        return 0
    rows = [("NAME", "VERSION", "SOURCE", "SIZE", "PATH")]
    for b in bundles:
        name = b.name if b.error is None else f"{b.name} (unusable: {b.error})"
        rows.append((name, b.version, b.source, _size(b.size_bytes), str(b.path)))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)) + "  " + row[4]
        )
    return 0


def run_info(args: argparse.Namespace) -> int:
    from foleystudio.ml.model_bundle import bundle_info, find_bundle, read_manifest, verify_bundle

    folder = find_bundle(args.name)
    manifest = verify_bundle(folder) if args.verify else read_manifest(folder)
    info = bundle_info(folder)
    modules = {name: _tensor_summary(folder / filename) for name, filename in manifest["modules"].items()}
    data = {
        "name": manifest["name"],
        "version": manifest.get("version", ""),
        "format_version": manifest["format_version"],
        "created": manifest.get("created", ""),
        "description": manifest.get("description", ""),
        "path": str(folder),
        "size_bytes": info.size_bytes,
        "verified": bool(args.verify),
        "modules": modules,
        "files": manifest["files"],
        "configs": manifest["configs"],
        "training": manifest.get("training", {}),
    }
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    print(f"{data['name']} {data['version']}  ({data['path']})")
    if data["description"]:
        print(f"  {data['description']}")
    print(f"  created {data['created']}, format {data['format_version']}, {_size(data['size_bytes'])}")
    if args.verify:
        print("  checksums: all files match the manifest")
    for name, summary in modules.items():
        print(f"  module {name}: {summary['tensors']} tensors, {summary['parameters']:,} values")
    for name, config in data["configs"].items():
        if isinstance(config, dict):
            text = ", ".join(f"{k}={v}" for k, v in config.items())
            print(f"  config {name}: {text}")
    if data["training"]:
        print("  training: " + ", ".join(f"{k}={v}" for k, v in data["training"].items()))
    return 0


def run_import(args: argparse.Namespace) -> int:
    from foleystudio.ml.model_install import import_bundle

    path = import_bundle(args.path, args.dest, overwrite=args.overwrite)
    print(f"installed {path} (every file's sha256 matches its manifest)")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from foleystudio.ml.model_bundle import list_bundles
    from foleystudio.ml.model_install import remove_bundle

    info = remove_bundle(args.name)
    version = f" {info.version}" if info.version else ""
    print(f"removed {info.name}{version} ({_size(info.size_bytes)}) from {info.path}")
    still = next((b for b in list_bundles() if b.name == info.name), None)
    if still is not None:
        print(f"'{info.name}' now resolves to {still.path} [{still.source}]")
    return 0


def run_pull(args: argparse.Namespace) -> int:
    from foleystudio.errors import UsageError
    from foleystudio.ml.model_bundle import pull_bundle
    from foleystudio.ml.model_install import parse_hub_repo, pull_from_hub

    hub = parse_hub_repo(args.source)
    if hub is not None:
        if args.sha256:
            raise UsageError(
                "--sha256 is for archive URLs; a repository's files are checked against its "
                "manifest, and --revision COMMIT pins one version"
            )
        repo_id, revision = hub
        path = pull_from_hub(repo_id, args.revision or revision, args.dest, overwrite=args.overwrite)
    else:
        if not args.sha256:
            raise UsageError(
                f"'{args.source}': give --sha256 of the archive (or OWNER/NAME for a hub repository)"
            )
        path = pull_bundle(args.source, args.sha256, args.dest, overwrite=args.overwrite)
    print(f"installed {path}")
    return 0


def run_codec(args: argparse.Namespace) -> int:
    from pathlib import Path

    from foleystudio.core.audio import SAVE_FORMATS, load_audio, save_audio
    from foleystudio.errors import AudioFileError, CheckpointError

    output = Path(args.output)
    if output.suffix.lower() not in SAVE_FORMATS:
        raise AudioFileError(
            f"cannot write {output.suffix or 'files without a suffix'!r}; use .wav or .flac", output
        )
    import torch

    from foleystudio.ml.codec import MelCodec
    from foleystudio.ml.model_bundle import load_bundle
    from foleystudio.ml.spectral import mel_distance, multi_resolution_stft

    codec = load_bundle(args.name).build_codec()
    if not isinstance(codec, MelCodec):
        raise CheckpointError("the bundle's codec is not a mel codec", args.name)
    if args.griffin_lim:
        codec.attach_vocoder(None)
    decoder = "Griffin-Lim" if codec.vocoder is None else "the vocoder"
    audio, rate = load_audio(args.input, codec.sample_rate, mono=True)
    wave = torch.from_numpy(audio).unsqueeze(0)
    with torch.no_grad():
        decoded = codec.decode(codec.encode(wave))[:, : wave.shape[1]]
        terms = multi_resolution_stft(decoded, wave)
        mel = float(mel_distance(codec, decoded, wave))
    subtype = "FLOAT" if output.suffix.lower() in (".wav", ".wave") else "PCM_24"
    save_audio(output, decoded[0].numpy(), rate, subtype=subtype)
    print(
        f"wrote {output}: {wave.shape[1] / rate:.2f} s at {rate} Hz decoded with {decoder}; "
        f"MR-STFT log-magnitude distance {float(terms.log_magnitude):.3f}, mel distance {mel:.3f}"
    )
    return 0


def _tensor_summary(path: Any) -> dict[str, int]:
    """Tensor and value counts of a safetensors file (header only, no weights read)."""
    from safetensors import safe_open

    from foleystudio.errors import CheckpointError

    try:
        with safe_open(str(path), framework="pt") as fh:
            shapes = [fh.get_slice(key).get_shape() for key in fh.keys()]  # noqa: SIM118 - not a dict
    except Exception as exc:  # safetensors raises its own error types
        raise CheckpointError(f"not a valid safetensors file: {exc}", path) from None
    values = 0
    for shape in shapes:
        count = 1
        for dim in shape:
            count *= dim
        values += count
    return {"tensors": len(shapes), "parameters": values}


def _size(num_bytes: int) -> str:
    if num_bytes >= 2**20:
        return f"{num_bytes / 2**20:.1f} MiB"
    return f"{num_bytes / 2**10:.1f} KiB"
