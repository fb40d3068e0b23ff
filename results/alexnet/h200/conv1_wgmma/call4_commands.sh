# call 4: where conv1_wgmma's time goes past its MMAs: the staged epilogue (fixed), no epilogue at all,
# then Nsight Compute's warp stall reasons at batch 512
python3 benchmarks/investigations/conv1_wgmma.py --batch-size 4096 --cubin-dir $OUT/cubin --variants "" STORES=0 EPILOGUE=0 STAGED=0 LOADS=0,EPILOGUE=0 > $OUT/call4_log.txt 2>&1
for f in $OUT/cubin/*.cubin; do /usr/local/cuda/bin/cuobjdump -sass $f | grep -v '^\s*/\* ' | sed 's@ */\* 0x[0-9a-f]* \*/@@' > $f.sass; rm $f; done
/usr/local/cuda/bin/ncu --section WarpStateStats --section SpeedOfLight --section LaunchStats --page raw --clock-control none --kernel-name conv1_wgmma python3 benchmarks/investigations/conv1_wgmma.py --batch-size 512 --once --variants "" EPILOGUE=0 > $OUT/call4_ncu_raw.txt 2>&1
