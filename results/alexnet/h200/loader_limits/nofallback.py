"""Remove the files no GPU decoder takes (CMYK, progressive ...) from a set, in place."""
import glob, os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from cnnbench.jpeg_info import jpeg_info
removed = 0
for path in glob.glob(sys.argv[1] + "/**/*.JPEG", recursive=True):
    if not jpeg_info(open(path, "rb").read()).gpu_decodable:
        os.remove(path); removed += 1
print("removed", removed, "files")
