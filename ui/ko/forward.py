"""Korean for the forward texts (see ui/ko/__init__.py): the Forward tab, its browser-composed x_t, and the
schedule controls every tab shares (ui/schedule_controls.py)."""

KO: dict[str, str] = {
    # ---- schedule controls (ui/schedule_controls.py; also the names its messages capture) ----
    "β schedule": "β 스케줄",
    "T (steps)": "T (스텝 수)",
    "Schedule parameters": "스케줄 파라미터",
    "cosine offset s": "코사인 오프셋 s",
    "Rescale β₁, β_T by 1000/T (Improved DDPM)": "β₁, β_T를 1000/T배로 재조정 (Improved DDPM)",
    "Improved DDPM multiplies β_1 and β_T by 1000/T, so the total noise Σβ_t, and hence ᾱ_T, stays about the "
    "same when you change T. Without it a short chain leaves signal at t = T and a long one destroys the image "
    "early.":
        "Improved DDPM은 β_1과 β_T에 1000/T를 곱해, T를 바꿔도 전체 노이즈 Σβ_t와 그에 따른 ᾱ_T가 거의 그대로 "
        "유지되게 합니다. 재조정하지 않으면 짧은 연쇄는 t = T에서 신호를 남기고, 긴 연쇄는 이미지를 너무 일찍 "
        "지워 버립니다.",
    # names passed into integer()/number() messages from the Forward tab
    "Resolution": "해상도",
    "Seed": "시드",

    # ---- Forward tab layout ----
    "x₀: your image (upload or paste)": "x₀: 내 이미지 (업로드 또는 붙여넣기)",
    "Bundled examples": "내장 예제",
    "Working resolution (px)": "작업 해상도 (px)",
    "Channels": "채널",
    "colour": "컬러",
    "grey": "흑백",
    "Compare with schedule": "비교할 스케줄",
    "none": "없음",
    "Noise seed": "노이즈 시드",
    "🎲 New noise": "🎲 새 노이즈",
    "Compose x_t in the browser (instant scrubbing)": "브라우저에서 x_t 합성 (슬라이더를 움직이는 즉시 반영)",
    "t (0 = clean image, T = pure noise)": "t (0 = 깨끗한 이미지, T = 순수 노이즈)",
    "x_t (server)": "x_t (서버)",
    "x_t under the comparison schedule": "비교 스케줄로 만든 x_t",
    "equation": "수식",
    "statistics": "통계",
    "Pixel histogram": "픽셀 히스토그램",
    "terminal check": "마지막 스텝 점검",
    "x_t at evenly spaced t": "균등한 간격의 t에서 본 x_t",
    "Schedule curves": "스케줄 곡선",
    "Markov chain vs closed form: reach t by t single steps, or in one":
        "마르코프 연쇄 vs 닫힌 형식: 한 스텝씩 t번 가거나, 한 번에 t로",
    "Run both routes at the current t": "현재 t에서 두 경로 모두 실행",
    "t Markov steps (Eq. 2)": "마르코프 스텝 t번 (Eq. 2)",
    "closed form (Eq. 4)": "닫힌 형식 (Eq. 4)",
    "residuals": "잔차",
    "chain statistics": "연쇄 통계",

    # ---- browser-composed x_t (ui/scrub.py) ----
    "x_{t} ({schedule}, composed in your browser, {ms} ms)": "x_{t} ({schedule}, 브라우저에서 합성, {ms} ms)",
    "x_t composed in the browser": "브라우저에서 합성한 x_t",

    # ---- Forward tab callbacks ----
    "$$x_0 \\text{ is the clean image: } \\bar\\alpha_0 = 1,\\ q(x_0 \\mid x_0) = \\delta(x_0)$$\n"
    "Move *t* to add noise.":
        "$$\\bar\\alpha_0 = 1,\\ q(x_0 \\mid x_0) = \\delta(x_0)$$\n"
        "$x_0$은 깨끗한 이미지입니다. *t*를 움직여 노이즈를 더하세요.",
    "how far from pure noise": "순수 노이즈와의 거리",
    "at t = {t}": "t = {t}에서",
    "signal fraction √ᾱ_t": "신호 비율 √ᾱ_t",
    "noise fraction √(1−ᾱ_t)": "노이즈 비율 √(1−ᾱ_t)",
    "mean, std of x_t pixels": "x_t 픽셀의 평균, 표준편차",
    "(pure noise: 0, 1)": "(순수 노이즈: 0, 1)",
    "correlation of x_t with x_0": "x_t와 x_0의 상관계수",
    "(pure noise: 0)": "(순수 노이즈: 0)",
    "⚠️ **Signal is left at t = T = {T}:** √ᾱ_T = {signal}, SNR = {snr_db} dB. Sampling starts from pure "
    "N(0, I), which this schedule never reaches, so a model trained on it meets inputs it has not seen. "
    "Raise T or β_T, or turn on rescaling.":
        "⚠️ **t = T = {T}에 신호가 남아 있습니다:** √ᾱ_T = {signal}, SNR = {snr_db} dB. 샘플링은 순수한 "
        "N(0, I)에서 시작하는데 이 스케줄은 그 분포에 이르지 못하므로, 이 스케줄로 학습한 모델은 본 적 없는 "
        "입력을 받게 됩니다. T나 β_T를 높이거나 재조정을 켜세요.",
    "✅ At t = T = {T} the image is gone: √ᾱ_T = {signal}, SNR = {snr_db} dB.":
        "✅ t = T = {T}에서 이미지가 사라집니다: √ᾱ_T = {signal}, SNR = {snr_db} dB.",
    "The image did not arrive as a file; please upload it again.":
        "이미지가 파일로 전달되지 않았습니다. 다시 업로드하세요.",
    "x_{t} under the {schedule} schedule": "{schedule} 스케줄로 만든 x_{t}",
    "no comparison schedule": "비교 스케줄 없음",
    "Load an image first (upload one or pick an example).": "먼저 이미지를 불러오세요 (업로드하거나 예제를 고르세요).",
    "Move t above 0: at t = 0 both routes are x_0 itself.":
        "t를 0보다 크게 옮기세요. t = 0에서는 두 경로 모두 x_0 그대로입니다.",
    "route": "경로",
    "mean of (x_t − √ᾱ_t x_0)/√(1−ᾱ_t)": "(x_t − √ᾱ_t x_0)/√(1−ᾱ_t)의 평균",
    "its std": "표준편차",
    "time": "시간",
    "{t} Markov steps, Eq. 2": "마르코프 스텝 {t}번, Eq. 2",
    "closed form, Eq. 4": "닫힌 형식, Eq. 4",
    "what both must give": "둘 다 따라야 하는 값",
    "Both are draws from the same Gaussian, so the pictures differ pixel by pixel but agree in distribution "
    "(the ± are two standard errors for this many pixels).":
        "둘 다 같은 가우시안에서 뽑은 표본이므로 그림은 픽셀마다 다르지만 분포는 일치합니다 "
        "(±는 이 픽셀 수에서의 표준오차 2배입니다).",
}
