"""How far a decode path's inputs, and a model's predictions on them, are from the reference pipeline.

The reference is PIL with the weights' own transforms(); the fast paths decode with other
libraries (libjpeg-turbo through torchvision, nvJPEG, nvImageCodec) and resample in their own way,
so a top-1 figure says which preprocessing it rests on only if the run measures the difference.
"""

import torch

from .batches import collate_samples
from .data import choose_indices, open_dataset
from .gpu_decode import GPU_DECODERS, DecodeOnDevice

FIDELITY_SAMPLE = 64     # images of the run compared pixel by pixel with the reference


def pixel_difference(crops: torch.Tensor, reference: torch.Tensor) -> dict:
    """Mean and max |crop - reference| in grey levels of 255, and whether every pixel is within one."""
    difference = (crops.float() - reference.float()).abs()
    return {"images": len(crops), "mean_abs_grey_levels": round(difference.mean().item(), 4),
            "max_abs_grey_levels": round(difference.max().item(), 2),
            "within_one_grey_level": bool(difference.max().item() <= 1.0 + 1e-3)}


def prediction_agreement(reference: torch.Tensor, logits: torch.Tensor) -> dict:
    """How often one model's top-1 (and top-5) classes agree between two decode paths of the same images.

    Pretrained weights can't be had everywhere, and a random network gives every image nearly
    the same logits: one image-independent part leads, its top-1 is one class for all images,
    and raw top-1 would agree trivially. So each path's logits are first centred on their mean
    over the images, and the classes follow what differs between images; `distinct_classes`
    shows that they do. The comparison is between paths, so any fixed function of the logits serves.
    """
    def top5(values):
        return (values - values.mean(dim=0)).topk(5, dim=1).indices
    ours, theirs = top5(logits), top5(reference)
    return {"images": len(ours), "distinct_classes": theirs[:, 0].unique().numel(),
            "top1_agreement": (ours[:, 0] == theirs[:, 0]).float().mean().item(),
            "top5_agreement": (ours[:, :, None] == theirs[:, None, :]).any(dim=2).float().mean().item()}


def decode_fidelity(root, transforms, decode: str, feeder, indices, seed: int = 0, gpu_share: float = 1.0) -> dict:
    """pixel_difference of the crops `feeder` makes on the `decode` path from the reference's,
    over a seeded sample of `indices` (the run's own images)."""
    reference_set = open_dataset(root, transforms, "pil")
    sample = [indices[i] for i in choose_indices(len(indices), FIDELITY_SAMPLE, seed)]
    sample = [i for i in sample if reference_set[i][0] == "crop"]      # the run names unreadable files itself
    reference = collate_samples([reference_set[i] for i in sample]).crops.to(feeder.device)
    path_set = open_dataset(root, transforms, decode, gpu_share)
    samples = [path_set[i] for i in sample]
    collate = DecodeOnDevice(feeder.device, path_set.prep, decode) if decode in GPU_DECODERS else collate_samples
    with torch.inference_mode():
        images, _ = feeder(collate(samples))
    if images is None or len(images) != len(reference):
        return {"images": 0, "decode": decode, "note": "some sampled files did not decode on this path"}
    def grey(x):
        return x * feeder.std + feeder.mean
    return {**pixel_difference(grey(images), grey(reference)), "decode": decode}
