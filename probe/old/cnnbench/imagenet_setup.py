"""Build the ImageNet validation set (val/<wnid>/ILSVRC2012_val_*.JPEG) from the official archives
or Kaggle's download, offline and safely. Run it through ./setup_imagenet.sh (setup_imagenet.py is its front door).

Labels come from the devkit: the ground-truth file gives each image's ILSVRC2012_ID, and meta.mat
maps IDs (leaf synsets only) to WordNet ids; IDs are not in sorted-wnid order, so every label goes
through meta.mat. The archives' md5 sums are torchvision's (torchvision.datasets.imagenet.ARCHIVE_META);
its own devkit parser is not reused because it insists on those sums and extracts without checks.
The set is built in a temporary folder beside the target and renamed into place at the end, so
an interrupted run never leaves something that looks finished.
"""

import csv
import hashlib
import os
import re
import shutil
import tarfile
import tempfile
from pathlib import Path

from torchvision.datasets.imagenet import ARCHIVE_META
from tqdm import tqdm

from .data import imagenet_wnids
from .errors import UserError

VAL_ARCHIVE, VAL_MD5 = ARCHIVE_META["val"]
DEVKIT_ARCHIVE, DEVKIT_MD5 = ARCHIVE_META["devkit"]
KAGGLE_CSV = "LOC_val_solution.csv"
KAGGLE_VAL = Path("ILSVRC") / "Data" / "CLS-LOC" / "val"
MARKER = ".setup_complete"
VAL_NAME = re.compile(r"^ILSVRC2012_val_(\d{8})\.JPEG$")
KAGGLE_IMAGE_ID = re.compile(r"^ILSVRC2012_val_\d{8}$")
WNID = re.compile(r"^n\d{8}$")
SPACE_MARGIN = 1.05
WHERE_TO_GET = ("get ILSVRC2012_img_val.tar and ILSVRC2012_devkit_t12.tar.gz from https://image-net.org "
                "(Download, after registering), or Kaggle's imagenet-object-localization-challenge "
                "(LOC_val_solution.csv and ILSVRC/), and put them in")


def md5_with_progress(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as archive, tqdm(total=path.stat().st_size, unit="B", unit_scale=True,
                                           desc=f"md5 {path.name}") as bar:
        for block in iter(lambda: archive.read(1 << 22), b""):
            digest.update(block)
            bar.update(len(block))
    return digest.hexdigest()


def verify_checksum(path: Path, expected: str) -> None:
    actual = md5_with_progress(path)
    if actual != expected:
        raise UserError(f"{path} is corrupted or not the official archive (md5 {actual}, expected {expected}); "
                        f"download it again, or skip the checksum for a custom archive", exit_code=1)


def check_member(member: tarfile.TarInfo, destination: Path) -> Path:
    """Where a member would land; refuses anything that would escape `destination` or is not plain."""
    target = (destination / member.name).resolve()
    if os.path.isabs(member.name) or not target.is_relative_to(destination.resolve()):
        raise UserError(f"unsafe archive member '{member.name}' would be written outside {destination}; "
                        f"refusing to extract (nothing was written outside)", exit_code=1)
    if not (member.isfile() or member.isdir()):
        raise UserError(f"archive member '{member.name}' is a link or special file; refusing to extract", exit_code=1)
    return target


def safe_extract(archive: Path, destination: Path) -> None:
    """Extract a tar archive, checking every member before anything is written."""
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            for member in members:
                check_member(member, destination)
            for member in members:
                tar.extract(member, destination, set_attrs=False)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise UserError(f"{archive} is damaged or not a tar archive ({error})", exit_code=1)


def read_devkit(devkit_archive: Path, work: Path) -> list:
    """The wnid of every val image, in image order, from meta.mat and the ground-truth file."""
    import scipy.io

    safe_extract(devkit_archive, work)
    data = work / "ILSVRC2012_devkit_t12" / "data"
    try:
        synsets = scipy.io.loadmat(str(data / "meta.mat"), squeeze_me=True)["synsets"]
        id_to_wnid = {int(s["ILSVRC2012_ID"]): str(s["WNID"]) for s in synsets if int(s["num_children"]) == 0}
        ids = [int(line) for line in (data / "ILSVRC2012_validation_ground_truth.txt").read_text().split()]
    except (OSError, KeyError, ValueError) as error:
        raise UserError(f"{devkit_archive}: not an ILSVRC2012 devkit (data/meta.mat or the ground truth "
                        f"is missing or unreadable: {error})", exit_code=1)
    unknown = sorted(set(ids) - set(id_to_wnid))
    if unknown:
        raise UserError(f"{devkit_archive}: ground truth names ILSVRC2012_ID {unknown[0]}, not a leaf synset "
                        f"in meta.mat", exit_code=1)
    return [id_to_wnid[i] for i in ids]


def check_labels(wnids, source: str) -> None:
    """Every label becomes a folder name: each must be an ImageNet-1k wnid (n + 8 digits, in the
    1000-class list), checked before anything is written."""
    known = set(imagenet_wnids())
    bad = next((w for w in wnids if not (WNID.match(w) and w in known)), None)
    if bad is not None:
        raise UserError(f"{source}: label {bad!r} is not an ImageNet-1k wnid (n + 8 digits, one of the 1000 "
                        f"classes); refusing to build the val set (nothing was written)", exit_code=1)


def check_space(directory: Path, needed_bytes: int) -> None:
    free = shutil.disk_usage(directory).free
    if free < needed_bytes:
        raise UserError(f"not enough disk space in {directory}: {needed_bytes / 1e9:.1f} GB needed, "
                        f"{free / 1e9:.1f} GB free", exit_code=1)


def build_from_official(data_dir: Path, staging: Path, skip_checksum: bool) -> int:
    val_tar, devkit = data_dir / VAL_ARCHIVE, data_dir / DEVKIT_ARCHIVE
    if not skip_checksum:
        verify_checksum(devkit, DEVKIT_MD5)
        verify_checksum(val_tar, VAL_MD5)
    check_space(data_dir, int(val_tar.stat().st_size * SPACE_MARGIN))
    labels = read_devkit(devkit, staging / "devkit")
    shutil.rmtree(staging / "devkit")
    check_labels(set(labels), f"{devkit} (meta.mat)")
    written = 0
    try:
        with tarfile.open(val_tar, mode="r|*") as tar:
            for member in tqdm(tar, total=len(labels), unit="img", desc="extracting val"):
                check_member(member, staging)
                match = VAL_NAME.match(member.name)
                if member.isdir():
                    continue
                if not match or not 1 <= int(match.group(1)) <= len(labels):
                    raise UserError(f"{val_tar}: unexpected member '{member.name}' (not ILSVRC2012_val_N.JPEG "
                                    f"with N in 1..{len(labels)})", exit_code=1)
                folder = staging / "val" / labels[int(match.group(1)) - 1]
                folder.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as source, open(folder / member.name, "xb") as target:
                    shutil.copyfileobj(source, target)
                written += 1
    except (tarfile.TarError, EOFError) as error:
        raise UserError(f"{val_tar} is damaged or truncated ({error}); download it again", exit_code=1)
    except FileExistsError as error:
        raise UserError(f"{val_tar}: image {Path(error.filename).name} appears twice", exit_code=1)
    if written < len(labels):  # only reachable with --skip-checksum: the official archive has them all
        print(f"NOTE: partial archive: {written:,} of the {len(labels):,} images in the ground truth")
    return written


def build_from_kaggle(data_dir: Path, staging: Path) -> int:
    source = data_dir / KAGGLE_VAL
    with open(data_dir / KAGGLE_CSV, newline="") as table:
        try:
            rows = [(row["ImageId"], row["PredictionString"].split()[0]) for row in csv.DictReader(table)]
        except (KeyError, IndexError, AttributeError):
            raise UserError(f"{data_dir / KAGGLE_CSV}: not Kaggle's ImageId,PredictionString table", exit_code=1)
    bad_id = next((image for image, _ in rows if not KAGGLE_IMAGE_ID.match(image)), None)
    if bad_id is not None:
        raise UserError(f"{KAGGLE_CSV}: ImageId {bad_id!r} is not ILSVRC2012_val_<8 digits>; refusing to build "
                        f"the val set (nothing was written)", exit_code=1)
    check_labels({wnid for _, wnid in rows}, KAGGLE_CSV)
    missing = [image for image, _ in rows if not (source / f"{image}.JPEG").is_file()]
    if missing:
        raise UserError(f"{KAGGLE_CSV} lists {len(missing)} image(s) missing from {source}, e.g. {missing[0]}.JPEG",
                        exit_code=1)
    same_disk = os.stat(source).st_dev == os.stat(staging).st_dev
    if not same_disk:
        check_space(data_dir, int(sum((source / f"{i}.JPEG").stat().st_size for i, _ in rows) * SPACE_MARGIN))
    for image, wnid in tqdm(rows, unit="img", desc="sorting val"):
        folder = staging / "val" / wnid
        folder.mkdir(parents=True, exist_ok=True)
        # a hard link costs no space; another disk gets a copy
        (os.link if same_disk else shutil.copy2)(source / f"{image}.JPEG", folder / f"{image}.JPEG")
    return len(rows)


def verify(val_dir: Path, expected_images: int) -> tuple:
    """(images, classes), after checking every image is in exactly one class folder."""
    names = [path.name for path in val_dir.glob("*/*") if path.is_file()]
    classes = sum(1 for path in val_dir.iterdir() if path.is_dir())
    if len(names) != expected_images or len(set(names)) != len(names):
        raise UserError(f"verification failed: {len(names)} files ({len(set(names))} distinct) in {val_dir}, "
                        f"expected {expected_images}", exit_code=1)
    return len(names), classes


def build_val_set(data_dir: Path, skip_checksum: bool = False, say=print) -> None:
    """DATA_DIR/val/<wnid>/*.JPEG from the official archives or Kaggle's download found in data_dir."""
    data_dir = Path(data_dir).resolve()
    val_dir = data_dir / "val"
    if (val_dir / MARKER).is_file():
        images, classes = verify(val_dir, int((val_dir / MARKER).read_text().split()[0]))
        say(f"{val_dir} is already set up ({images:,} images in {classes} classes); nothing to do.")
        return
    if val_dir.exists():
        raise UserError(f"{val_dir} exists but was not completed by this script; move it away and re-run")
    official = (data_dir / VAL_ARCHIVE).is_file() and (data_dir / DEVKIT_ARCHIVE).is_file()
    kaggle = (data_dir / KAGGLE_CSV).is_file() and (data_dir / KAGGLE_VAL).is_dir()
    if not (official or kaggle):
        raise UserError(f"no ImageNet archives in {data_dir}: {WHERE_TO_GET} {data_dir}")
    for leftover in data_dir.glob(".val.partial-*"):   # an interrupted earlier run
        shutil.rmtree(leftover, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=".val.partial-", dir=data_dir))
    try:
        expected = build_from_official(data_dir, staging, skip_checksum) if official else \
            build_from_kaggle(data_dir, staging)
        images, classes = verify(staging / "val", expected)
        (staging / "val" / MARKER).write_text(f"{images} images {classes} classes\n")
        os.rename(staging / "val", val_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    say(f"Done: {images:,} images in {classes} class folders under {val_dir} "
          f"(from {'the official archives' if official else 'the Kaggle download'}).")
    say(f"Next: .venv/bin/python alexnet/alexnet_benchmark.py --data-path {data_dir} --num-batches 0")
