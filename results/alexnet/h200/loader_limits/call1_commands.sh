#!/bin/bash
# HEAD's acceptance, then stage_probe.py on a varied and a same-size set.
OUT=$1
export PYTHONUNBUFFERED=1
T0=$(date +%s); stamp(){ echo "### $* at $(( $(date +%s) - T0 )) s  $(date +%T)"; }
LOG=$OUT/call1_log.txt
{ git log --oneline -1 2>/dev/null; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; nproc
  lscpu | grep -E "^Model name|^Thread|^Core|^Socket|^CPU\(s\)|^NUMA"
  python3 -c "import sys, torch, torchvision; print(sys.version.split()[0], 'torch', torch.__version__, 'torchvision', torchvision.__version__)"; } > $LOG
nice -n 19 python3 benchmarks/make_jpegs.py /tmp/varied --count 4096 --classes 16 --varied > /dev/null 2>&1 &
nice -n 19 python3 benchmarks/make_jpegs.py /tmp/same --count 2048 --classes 8 > /dev/null 2>&1 &
stamp acceptance >> $LOG
timeout 400 python3 benchmarks/gpu_acceptance.py /tmp/acc > $OUT/acceptance_stdout.txt 2>&1
echo "acceptance rc $?" >> $LOG
cp /tmp/acc/acceptance_log.txt $OUT/acceptance_log.txt
wait
find /tmp/varied /tmp/same -type f | xargs cat > /dev/null
for SET in varied same; do
  stamp "probe $SET" >> $LOG
  timeout 90 python3 probe/stage_probe.py /tmp/$SET 8 4 >> $LOG 2>&1
done
stamp done >> $LOG
