#!/bin/bash
cd /work/main
for seed in 0 1 2 3; do
  echo "== seed $seed defaults load $(cut -d' ' -f1-3 /proc/loadavg)"
  pdesolve solve problems/nt_hjb10_ball.yaml --quiet --seed $seed --set train.time_budget=20 --set train.steps=100000 --out /tmp/ver_def_$seed 2>&1 | grep rel_l2
  echo "== seed $seed tuned load $(cut -d' ' -f1-3 /proc/loadavg)"
  pdesolve solve problems/nt_hjb10_ball.yaml --quiet --seed $seed --config benchmarks/results/tune_nt_hjb10/best.yaml --set train.time_budget=20 --set train.steps=100000 --out /tmp/ver_tuned_$seed 2>&1 | grep rel_l2
done
