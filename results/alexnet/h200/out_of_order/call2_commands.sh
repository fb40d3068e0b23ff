#!/bin/bash
# Device time per batch of 256 in one process (kprof.py), on 2,048-file sets; tree: 44464fb + in_order=False
# (44464fb's resize kernels).
OUT=$1
export PYTHONUNBUFFERED=1
D=/tmp/data
python3 benchmarks/make_jpegs.py $D/same --count 2048 --classes 16 > /dev/null 2>&1 &
python3 benchmarks/make_jpegs.py $D/varied --count 2048 --classes 16 --varied > /dev/null 2>&1 &
wait
# the first run of this line failed (cnnbench not on the path); it ran again on the same warm machine as
# export PYTHONPATH=$PWD; python3 probe/kprof.py /tmp/data/same /tmp/data/varied > $OUT/call2_kprof.txt 2>&1
PYTHONPATH=$PWD python3 probe/kprof.py $D/same $D/varied > $OUT/call2_kprof.txt 2>&1
