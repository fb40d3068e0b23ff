#!/bin/bash
# nvImageCodec ROI (centre-crop window) decode against the whole image, and torchvision's nvJPEG, on the H200.
OUT=$1
export PYTHONUNBUFFERED=1
LOG=$OUT/log.txt
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl > $OUT/pip.txt 2>&1 && export PYTHONPATH=/tmp/site || exit
python3 benchmarks/make_jpegs.py /tmp/varied --count 4096 --classes 16 --varied > /dev/null 2>&1 &
python3 benchmarks/make_jpegs.py /tmp/same --count 2048 --classes 8 > /dev/null 2>&1 &
wait
cd probe
{ timeout 40 python3 roi_check.py /tmp/varied 2>&1 | grep -v -i "nvjpeg2k\|nvtiff"
for RUN in "/tmp/varied 8" "/tmp/same 8" "/tmp/varied 1"; do
  timeout 60 python3 roi_probe.py $RUN 4 2>&1 | grep -v -i "nvjpeg2k\|nvtiff\|warn"
done; } >> $LOG 2>&1
cd ..
{ echo "### HEAD's benchmark on the varied set (default decode, batch 256)"
timeout 45 python3 alexnet/alexnet_benchmark.py --data-path /tmp/varied --num-batches 0 --weights none --quiet \
  --batch-size 256 --output-dir /tmp/res 2>&1 | tr '\r' '\n' | grep -a -E "^NOTE|^Loaded|^Throughput|rror"
echo "rc ${PIPESTATUS[0]}"; } >> $LOG 2>&1
