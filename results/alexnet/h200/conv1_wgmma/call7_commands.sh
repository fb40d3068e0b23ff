# call 7: call 6's first line again, after the fix (call 6 loaded the kernel before PyTorch made its CUDA context)
python3 benchmarks/investigations/conv1_wgmma_model.py --batch-size 4096 > $OUT/call7_model_log.txt 2>&1
