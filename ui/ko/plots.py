"""Korean for the plots texts (see ui/ko/__init__.py).

The figures (ui/plots.py) are built by callbacks, so these go through `_()`; HTML sub/superscripts and
plotly's %{…} hover fields stay as they are.
"""

KO: dict[str, str] = {
    # the schedule figure (Forward tab)
    "β<sub>t</sub> (log scale)": "β<sub>t</sub> (로그 스케일)",
    "signal √ᾱ<sub>t</sub> against noise √(1−ᾱ<sub>t</sub>)": "신호 √ᾱ<sub>t</sub> 대 노이즈 √(1−ᾱ<sub>t</sub>)",
    "√(1−ᾱ<sub>t</sub>)  (noise)": "√(1−ᾱ<sub>t</sub>)  (노이즈)",
    "√ᾱ<sub>t</sub>  (signal)": "√ᾱ<sub>t</sub>  (신호)",
    "{label} at t={t}": "{label}, t={t}일 때",
    # histograms against N(0, 1)
    "pixels of x<sub>{t}</sub>": "x<sub>{t}</sub>의 픽셀",
    "Pixel values of x<sub>{t}</sub> (model space) vs N(0, 1)": "x<sub>{t}</sub>의 픽셀 값 (모델 공간) 대 N(0, 1)",
    "value": "값",
    "density": "밀도",
    "{t} Markov steps": "마르코프 연쇄 {t} 스텝",
    "closed form": "닫힌 형식",
    "N(0, 1), what both must follow": "N(0, 1), 둘 다 따라야 할 분포",
    "standardised residual": "표준화 잔차",
    # the sampling figure (Sample tab)
    "std of x<sub>t</sub>": "x<sub>t</sub>의 표준편차",
    "RMS change of x̂<sub>0</sub>": "x̂<sub>0</sub>의 RMS 변화",
    "Per reverse step": "역방향 스텝별",
    "t (the chain runs from T down to 0)": "t (연쇄는 T에서 0으로 진행)",
    "RMS Δx̂<sub>0</sub> (log)": "RMS Δx̂<sub>0</sub> (로그)",
    # the variational bound (Evaluate tab)
    "L<sub>0</sub> (decoder)": "L<sub>0</sub> (디코더)",
    "L<sub>t−1</sub> (mean of the sampled t, per stratum)": "L<sub>t−1</sub> (층별로 뽑은 t의 평균)",
    "Bits per dimension of each term": "각 항의 차원당 비트",
    "bits/dim (log scale)": "비트/차원 (로그 스케일)",
    "Cumulative bits, decoding from T down": "누적 비트, T부터 내려가며 디코딩",
    "t (from T down to 1)": "t (T에서 1까지)",
    "bits/dim so far": "지금까지의 비트/차원",
    "Rate–distortion": "레이트–왜곡",
    "rate: bits/dim received": "레이트: 받은 비트/차원",
    "distortion: RMSE of x̂<sub>0</sub> (0–255)": "왜곡: x̂<sub>0</sub>의 RMSE (0–255)",
    "bits/dim": "비트/차원",
}
