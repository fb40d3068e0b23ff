"""What a JPEG file is, read from its header and its last bytes: which decoder can take it, and its size.

Batched GPU decoders (nvJPEG through torchvision, nvImageCodec's hardware engines) take baseline
and extended sequential Huffman JPEGs with one (grey) or three (YCbCr) components of 8 bits. One
file they cannot take (CMYK, progressive, arithmetic-coded, 12-bit, not a JPEG at all) makes
torchvision's batched call fail for the whole batch, so such files are found here first and
decoded on the CPU, one by one. So are files cut short (no end-of-image marker near the end):
nvJPEG decodes what is there and fills the rest, where PIL, the reference, refuses the file.
"""

import struct
from dataclasses import dataclass

# Start-of-frame markers: 0xC0 baseline and 0xC1 extended sequential Huffman are what GPU decoders
# take; 0xC2 progressive, 0xC3 lossless, 0xC5-0xC7 hierarchical, 0xC9-0xCF arithmetic are not.
SEQUENTIAL_HUFFMAN = (0xC0, 0xC1)
START_OF_FRAME = (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF)
STANDALONE_MARKERS = set(range(0xD0, 0xD8)) | {0x01, 0xD8}
END_OF_IMAGE = b"\xff\xd9"     # cannot occur in entropy-coded data, where every 0xFF is followed by 0x00 or a restart
TAIL = 1024   # bytes at the end searched for it: some writers pad or append data after it


@dataclass(frozen=True)
class JpegInfo:
    kind: str           # "sequential", "progressive", "other-jpeg" or "not-jpeg"
    height: int = 0
    width: int = 0
    components: int = 0
    bits: int = 0
    complete: bool = False     # an end-of-image marker among the last TAIL bytes

    @property
    def gpu_decodable(self) -> bool:
        """Whole baseline/extended 8-bit Huffman JPEG, grey or YCbCr: what batched GPU decoders take."""
        return self.kind == "sequential" and self.bits == 8 and self.components in (1, 3) and self.complete


def jpeg_info(data) -> JpegInfo:
    """Walk the markers up to the first start-of-frame, and look for the end in the last bytes;
    never decodes image data."""
    data = memoryview(data)
    if len(data) < 4 or data[0] != 0xFF or data[1] != 0xD8:
        return JpegInfo("not-jpeg")
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return JpegInfo("not-jpeg")
        marker = data[position + 1]
        if marker == 0xFF:        # fill byte before a marker
            position += 1
            continue
        if marker in STANDALONE_MARKERS:
            position += 2
            continue
        (length,) = struct.unpack_from(">H", data, position + 2)
        if marker in START_OF_FRAME:
            if position + 10 > len(data):
                break
            bits, height, width, components = struct.unpack_from(">BHHB", data, position + 4)
            kind = ("sequential" if marker in SEQUENTIAL_HUFFMAN else
                    "progressive" if marker == 0xC2 else "other-jpeg")
            return JpegInfo(kind, height, width, components, bits, END_OF_IMAGE in bytes(data[-TAIL:]))
        if marker == 0xDA:        # start of scan before any frame header: damaged
            break
        position += 2 + length
    return JpegInfo("not-jpeg")
