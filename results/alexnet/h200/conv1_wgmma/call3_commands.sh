# call 3: conv1_wgmma with its output staged through shared memory, at batch 4096
python3 benchmarks/investigations/conv1_wgmma.py --batch-size 4096 --energy --variants "" STAGED=0 STORES=0 > $OUT/call3_log.txt 2>&1
