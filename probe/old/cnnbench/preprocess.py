"""The weights' eval transform (resize the short side, centre crop, normalize) and CPU decoding.

Every decode path reproduces the weights' own transform: PIL with transforms() as the reference,
libjpeg-turbo plus a box resample on the CPU, GPU decoders plus resample.resize_crop_batch. JPEGs
are decoded to RGB as PIL's convert("RGB") does (grey replicated, CMYK converted), through
TorchCodec where it is installed (torchvision 0.29 deprecates its codecs in its favour), else
torchvision.io. Any other format goes through PIL itself: 16-bit, palette and alpha images have
no one right RGB, and the reference's is PIL's.
"""

import warnings
from dataclasses import dataclass

import torch
import torchvision.io as tvio
import torchvision.transforms.functional as TF

from .errors import UserError

# torchvision 0.29 deprecates its image codecs in favour of TorchCodec; they still work, and this
# project supports torchvision versions without TorchCodec, so the per-call warning is silenced.
warnings.filterwarnings("ignore", message="The image decoding and encoding capabilities of TorchVision")

try:   # TorchCodec 0.16+ decodes images with torchvision's API
    from torchcodec.decoders import decode_jpeg as _codec_decode_jpeg
    CODEC_LIBRARY, RGB = "torchcodec", "RGB"
except (ImportError, OSError, RuntimeError):
    _codec_decode_jpeg = tvio.decode_jpeg
    CODEC_LIBRARY, RGB = "torchvision.io", tvio.ImageReadMode.RGB

# what decoding a damaged or foreign file raises: the codecs' RuntimeError, PIL's OSError (and
# UnidentifiedImageError), SyntaxError and ValueError
DECODE_ERRORS = (OSError, RuntimeError, SyntaxError, ValueError)


def decode_jpeg(data, **kwargs):
    """torchvision.io.decode_jpeg's signature, from TorchCodec where installed."""
    return _codec_decode_jpeg(data, **kwargs)


# the resize filters of torchvision's classification weights (antialiased, as PIL's; PIL names them
# in capitals), and each one's support in source pixels before the downscale widens it
RESIZE_FILTERS = {"bilinear": 1.0, "bicubic": 2.0}


@dataclass(frozen=True)
class Preprocess:
    """The eval transform's numbers, from the weights' transforms()."""
    resize_size: int = 256
    crop_size: int = 224
    mean: tuple = (0.485, 0.456, 0.406)
    std: tuple = (0.229, 0.224, 0.225)
    interpolation: str = "bilinear"     # EfficientNet-B*, Swin-T and MaxViT use bicubic

    def check_fast_paths(self) -> None:
        """UserError unless the cpu and gpu decode paths reproduce this resize (RESIZE_FILTERS)."""
        if self.interpolation not in RESIZE_FILTERS:
            raise UserError(f"the weights' transforms resize with {self.interpolation}; the fast decode paths "
                            f"reproduce {' and '.join(RESIZE_FILTERS)} only (use --decode pil)")

    @classmethod
    def from_transforms(cls, transforms) -> "Preprocess":
        def first(value):
            return value[0] if isinstance(value, (list, tuple)) else value
        interpolation = getattr(getattr(transforms, "interpolation", None), "value", cls.interpolation)
        return cls(first(getattr(transforms, "resize_size", 256)), first(getattr(transforms, "crop_size", 224)),
                   tuple(getattr(transforms, "mean", cls.mean)), tuple(getattr(transforms, "std", cls.std)),
                   interpolation)

    def resized_size(self, height: int, width: int) -> tuple:
        """torchvision's resize of the short side to resize_size, long side truncated the same way."""
        short, long = (height, width) if height <= width else (width, height)
        new_long = int(self.resize_size * long / short)
        return (self.resize_size, new_long) if height <= width else (new_long, self.resize_size)


def crop_box(height: int, width: int, prep: Preprocess) -> tuple:
    """The region of the original image that resize-then-centre-crop keeps, in source pixels."""
    new_height, new_width = prep.resized_size(height, width)
    top = int(round((new_height - prep.crop_size) / 2.0))   # torchvision's center_crop rounding
    left = int(round((new_width - prep.crop_size) / 2.0))
    scale_y, scale_x = height / new_height, width / new_width
    return (left * scale_x, top * scale_y, (left + prep.crop_size) * scale_x, (top + prep.crop_size) * scale_y)


def resize_and_crop_on_cpu(image: torch.Tensor, prep: Preprocess) -> torch.Tensor:
    """uint8 (3,H,W) -> uint8 (3,crop,crop), resampling only the kept region.

    Pillow's resize with a source box filters exactly as the full resize would (same scale, same
    antialiased filter) but computes only the crop's outputs. With libjpeg-turbo decoding,
    2.2 ms per 500x375 JPEG against 3.0 ms for tensor resize + crop and 3.3 ms for the PIL path
    (one core of the development machine).
    """
    from PIL import Image

    height, width = image.shape[-2:]
    pil = Image.fromarray(image.permute(1, 2, 0).numpy())
    crop = pil.resize((prep.crop_size, prep.crop_size), getattr(Image, prep.interpolation.upper()),
                      box=crop_box(height, width, prep))
    return TF.pil_to_tensor(crop)


def decode_on_cpu(data: torch.Tensor) -> torch.Tensor:
    """RGB uint8 (3,H,W) from encoded bytes: libjpeg-turbo for JPEG, else PIL's convert("RGB")."""
    try:
        return _codec_decode_jpeg(data, mode=RGB)
    except RuntimeError:
        import io

        from PIL import Image

        try:
            with Image.open(io.BytesIO(data.numpy().tobytes())) as image:
                return TF.pil_to_tensor(image.convert("RGB"))
        except Image.UnidentifiedImageError:    # its message names a BytesIO, not the file
            raise RuntimeError("not a JPEG, nor an image format PIL reads") from None


def crop_on_cpu(data: torch.Tensor, prep: Preprocess) -> torch.Tensor:
    """Encoded bytes -> uint8 (3,crop,crop) crop, all on one CPU core."""
    return resize_and_crop_on_cpu(decode_on_cpu(data), prep)
