# call 2: conv1_wgmma variants at batch 4096, then Nsight Compute on two of them at 512
cd "$(dirname "$0")/../../../.." 2>/dev/null || true
python3 benchmarks/investigations/conv1_wgmma.py --batch-size 4096 --variants "" DEPTH=2 DEPTH=0 LOADS=0 STORES=0 LOADS=0,STORES=0 MIN_BLOCKS=1 > $OUT/call2_log.txt 2>&1
/usr/local/cuda/bin/ncu --set full --clock-control none --kernel-name conv1_wgmma -o $OUT/call2 -f python3 benchmarks/investigations/conv1_wgmma.py --batch-size 512 --once --variants "" LOADS=0 > $OUT/call2_ncu_run.txt 2>&1
/usr/local/cuda/bin/ncu -i $OUT/call2.ncu-rep --page details > $OUT/call2_ncu_details.txt 2>&1
rm -f $OUT/call2.ncu-rep
