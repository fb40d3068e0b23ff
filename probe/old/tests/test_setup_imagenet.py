"""setup_imagenet.sh on tiny archives shaped like the real ones, and a Kaggle-shaped folder."""

import io
import subprocess
import tarfile

import numpy as np
import pytest
import scipy.io

import setup_imagenet
from cnnbench import imagenet_setup
from cnnbench.errors import REPO_ROOT

# ILSVRC2012_IDs are not in wnid order: ID 1 is the 3rd wnid here, as in the real devkit.
LEAVES = {1: "n02119789", 2: "n02100735", 3: "n01440764"}
PARENTS = {4: "n00001740", 5: "n00002137"}            # non-leaf synsets: never labels
GROUND_TRUTH = [3, 1, 1, 2, 3, 2, 1]                  # image i+1 has ILSVRC2012_ID GROUND_TRUTH[i]


def make_devkit(path):
    fields = ["ILSVRC2012_ID", "WNID", "words", "gloss", "num_children", "children", "wordnet_height",
              "num_train_images"]
    entries = [(i, w, f"leaf {w}", "", 0, np.array([]), 0, 1300) for i, w in LEAVES.items()]
    entries += [(i, w, f"parent {w}", "", 2, np.array([1, 2]), 1, 0) for i, w in PARENTS.items()]
    synsets = np.empty(len(entries), dtype=[(f, "O") for f in fields])
    for row, entry in zip(synsets, sorted(entries, key=lambda e: e[1])):   # shuffled IDs
        for field, value in zip(fields, entry):
            row[field] = value
    mat = io.BytesIO()
    scipy.io.savemat(mat, {"synsets": synsets})
    truth = "".join(f"{i}\n" for i in GROUND_TRUTH).encode()
    with tarfile.open(path, "w:gz") as tar:
        for name, data in (("meta.mat", mat.getvalue()), ("ILSVRC2012_validation_ground_truth.txt", truth)):
            info = tarfile.TarInfo(f"ILSVRC2012_devkit_t12/data/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def image_name(n):
    return f"ILSVRC2012_val_{n:08d}.JPEG"


def make_val_tar(path, extra_members=(), padding=0):
    with tarfile.open(path, "w") as tar:
        for n in range(1, len(GROUND_TRUTH) + 1):
            data = f"jpeg bytes of image {n}".encode() + bytes(padding)
            info = tarfile.TarInfo(image_name(n))
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name in extra_members:
            info = tarfile.TarInfo(name)
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))


def official(tmp_path, **kwargs):
    data = tmp_path / "imagenet"
    data.mkdir()
    make_devkit(data / "ILSVRC2012_devkit_t12.tar.gz")
    make_val_tar(data / "ILSVRC2012_img_val.tar", **kwargs)
    return data


def run(*argv):
    return setup_imagenet.main(setup_imagenet.get_args_parser().parse_args([str(a) for a in argv]))


def expected_layout():
    return {image_name(n): LEAVES[i] for n, i in enumerate(GROUND_TRUTH, start=1)}


def test_official_archives_land_each_image_in_its_wnid_folder(tmp_path, capsys):
    data = official(tmp_path)
    assert run(data, "--skip-checksum") == 0
    found = {p.name: p.parent.name for p in (data / "val").glob("*/*.JPEG")}
    assert found == expected_layout()
    assert (data / "val" / "n02119789" / image_name(2)).read_bytes() == b"jpeg bytes of image 2"
    assert "7 images in 3 class folders" in capsys.readouterr().out
    assert not list(data.glob(".val.partial-*"))


def test_rerun_on_a_finished_set_is_a_no_op(tmp_path, capsys):
    data = official(tmp_path)
    assert run(data, "--skip-checksum") == 0
    before = sorted((p, p.stat().st_mtime_ns) for p in (data / "val").rglob("*"))
    assert run(data, "--skip-checksum") == 0
    assert "already set up" in capsys.readouterr().out
    assert sorted((p, p.stat().st_mtime_ns) for p in (data / "val").rglob("*")) == before


def test_checksum_mismatch_is_refused(tmp_path, capsys):
    data = official(tmp_path)
    assert run(data) == 1
    assert "corrupted or not the official archive" in capsys.readouterr().err
    assert not (data / "val").exists()


def test_truncated_archive_is_caught_and_leaves_nothing(tmp_path, capsys):
    data = official(tmp_path)
    archive = data / "ILSVRC2012_img_val.tar"
    make_val_tar(archive, padding=4000)
    archive.write_bytes(archive.read_bytes()[:512 + 2000])   # cut inside the first image
    assert run(data, "--skip-checksum") == 1
    assert "damaged or truncated" in capsys.readouterr().err
    assert not (data / "val").exists() and not list(data.glob(".val.partial-*"))


@pytest.mark.parametrize("member", ["../escaped.JPEG", "/tmp/absolute_escape.JPEG"])
def test_member_that_climbs_out_is_refused(tmp_path, capsys, member):
    data = official(tmp_path, extra_members=[member])
    assert run(data, "--skip-checksum") == 1
    assert "unsafe archive member" in capsys.readouterr().err
    assert not (tmp_path / "escaped.JPEG").exists() and not (data / "val").exists()


def test_devkit_member_that_climbs_out_is_refused(tmp_path, capsys):
    data = official(tmp_path)
    with tarfile.open(data / "ILSVRC2012_devkit_t12.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("../../evil.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    assert run(data, "--skip-checksum") == 1
    assert "unsafe archive member" in capsys.readouterr().err
    assert not list(tmp_path.rglob("evil.txt"))


def test_kaggle_layout(tmp_path):
    data = kaggle_folder(tmp_path, label_of=lambda wnid: f"{wnid} 10 20 30 40 n99999999")   # first wnid is the label
    assert run(data) == 0
    assert {p.name: p.parent.name for p in (data / "val").glob("*/*.JPEG")} == expected_layout()


def test_partial_archive_with_skip_checksum(tmp_path, capsys):
    data = official(tmp_path)
    archive = data / "ILSVRC2012_img_val.tar"
    with tarfile.open(archive) as full, tarfile.open(tmp_path / "part.tar", "w") as part:
        for member in full.getmembers()[:4]:
            part.addfile(member, full.extractfile(member))
    (tmp_path / "part.tar").replace(archive)
    assert run(data, "--skip-checksum") == 0
    assert "partial archive: 4 of the 7 images" in capsys.readouterr().out
    found = {p.name: p.parent.name for p in (data / "val").glob("*/*.JPEG")}
    assert found == {name: wnid for name, wnid in expected_layout().items() if int(name[15:23]) <= 4}


def test_missing_archives_say_where_to_get_them():
    result = subprocess.run([str(REPO_ROOT / "setup_imagenet.sh"), "/nonexistent/imagenet"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "image-net.org" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_not_enough_disk_space_is_refused_before_extracting(tmp_path, capsys, monkeypatch):
    data = official(tmp_path)
    monkeypatch.setattr(imagenet_setup, "SPACE_MARGIN", 1e12)   # ask for far more than any disk has
    assert run(data, "--skip-checksum") == 1
    assert "not enough disk space" in capsys.readouterr().err
    assert not (data / "val").exists()


def test_leftovers_of_an_interrupted_run_are_not_taken_for_done(tmp_path):
    data = official(tmp_path)
    partial = data / ".val.partial-interrupted" / "val" / "n02119789"
    partial.mkdir(parents=True)
    (partial / image_name(2)).write_bytes(b"half")
    assert run(data, "--skip-checksum") == 0
    assert {p.name: p.parent.name for p in (data / "val").glob("*/*.JPEG")} == expected_layout()
    assert not list(data.glob(".val.partial-*"))


def kaggle_folder(tmp_path, label_of=lambda wnid: wnid, image_id=lambda name: name[:-5]):
    data = tmp_path / "kaggle"
    source = data / "ILSVRC" / "Data" / "CLS-LOC" / "val"
    source.mkdir(parents=True)
    rows = ["ImageId,PredictionString"]
    for name, wnid in expected_layout().items():
        (source / name).write_bytes(b"jpeg")
        rows.append(f"{image_id(name)},{label_of(wnid)} 10 20 30 40")
    (data / "LOC_val_solution.csv").write_text("\n".join(rows) + "\n")
    return data


def written_outside(tmp_path, data) -> list:
    """Every file under tmp_path that is neither an input nor under data/val."""
    inputs = set((data / "ILSVRC").rglob("*")) | {data / "LOC_val_solution.csv"} | set(data.glob("*.tar*"))
    return [p for p in tmp_path.rglob("*") if p.is_file() and p not in inputs]


@pytest.mark.parametrize("label", ["../../../X", "n0144076", "n99999999", "..", "n01440764/../../X"])
def test_kaggle_labels_that_are_not_wnids_are_refused_before_writing(tmp_path, capsys, label):
    data = kaggle_folder(tmp_path, label_of=lambda wnid: label if wnid == "n01440764" else wnid)
    assert run(data) == 1
    assert "is not an ImageNet-1k wnid" in capsys.readouterr().err
    assert written_outside(tmp_path, data) == [] and not (data / "val").exists()


def test_kaggle_image_ids_that_climb_out_are_refused(tmp_path, capsys):
    data = kaggle_folder(tmp_path, image_id=lambda name: "../../" + name[:-5])
    assert run(data) == 1
    assert "is not ILSVRC2012_val_" in capsys.readouterr().err
    assert written_outside(tmp_path, data) == []


@pytest.mark.parametrize("wnid", ["../../../X", "n12345678"])
def test_devkit_wnids_that_are_not_imagenet_classes_are_refused_before_writing(tmp_path, capsys, wnid, monkeypatch):
    monkeypatch.setitem(LEAVES, 1, wnid)
    data = official(tmp_path)
    assert run(data, "--skip-checksum") == 1
    assert "is not an ImageNet-1k wnid" in capsys.readouterr().err
    assert written_outside(tmp_path, data) == [] and not list(data.glob(".val.partial-*"))
