import json, sys, glob
for path in sorted(glob.glob(sys.argv[1] + "/**/*.json", recursive=True)):
    m = json.load(open(path))
    st = m.get("worker_stage_ms_per_batch", {})
    info = m.get("data_info") or {}
    fid = info.get("input_fidelity") or {}
    print(f"  {path.split('/')[3]:18s} e2e {m['end_to_end_images_per_second']:8,.0f}  capacity {m.get('loader_capacity_images_per_second', 0):8,.0f}"
          f"  cpu {m.get('cpu_busy_percent')}%  jpeg {m.get('jpeg_decoder_busy_percent')}%  start {m.get('startup_time_s', 0):.1f}s"
          f"  fid {fid.get('mean_abs_grey_levels')}/{fid.get('max_abs_grey_levels')}  {info.get('resize')}  fb {m.get('cpu_fallback_images')}"
          "  stages " + " ".join(f"{k}={v:.1f}" for k, v in st.items()))
