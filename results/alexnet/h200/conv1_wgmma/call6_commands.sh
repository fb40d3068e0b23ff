# call 6: the whole compiled forward at 4096 with conv1 on wgmma (and the whole pool after it) against
# the shipped conv1 layer, then the product's target command for the day's reference
python3 benchmarks/investigations/conv1_wgmma_model.py --batch-size 4096 > $OUT/call6_model_log.txt 2>&1
python3 alexnet/alexnet_benchmark.py --synthetic --batch-size 4096 --precision bf16 --channels-last --rewrite --compile default --cuda-graphs --num-batches 100 --weights none --output-dir /tmp/target > $OUT/call6_target_log.txt 2>&1
