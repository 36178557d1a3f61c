"""Korean for the lab2d texts (see ui/ko/__init__.py)."""

KO: dict[str, str] = {
    # shape choices (labels only; the values stay as the core names them)
    "two moons": "반달 두 개",
    "swiss roll": "스위스 롤",
    "circles": "동심원",
    "8 Gaussians": "가우시안 8개",
    "checkerboard": "체커보드",
    "your image (its dark pixels)": "내 이미지 (어두운 픽셀)",
    "your word": "내 단어",
    # layout
    "Shape": "모양",
    "Your image: its dark pixels become points": "내 이미지: 어두운 픽셀이 점이 됩니다",
    "Your word": "내 단어",
    "Points": "점 개수",
    "Seed": "시드",
    "Training settings": "학습 설정",
    "Steps": "스텝 수",
    "Batch size": "배치 크기",
    "Learning rate (cosine decay)": "학습률 (코사인 감쇠)",
    "EMA decay": "EMA 감쇠율",
    "Train": "학습",
    "Stop": "중지",
    "Sample again": "다시 샘플링",
    "Show the learned score field −ε̂/√(1−ᾱ_t)": "학습된 스코어 장 −ε̂/√(1−ᾱ_t) 표시",
    "training status": "학습 상태",
    "Press **Train**: a small MLP learns ε in about 15 seconds.":
        "**학습**을 누르세요: 작은 MLP가 약 15초 만에 ε을 학습합니다.",
    "Training loss": "학습 손실",
    "Forward process": "순방향 과정",
    "Reverse process": "역방향 과정",
    "fit": "적합도",
    # names in the "… must be from … to …" messages (ui/ko/messages.py translates the names it captures)
    "Number of points": "점 개수",
    "Learning rate": "학습률",
    # callbacks
    "Forward: q(x<sub>t</sub> | x<sub>t−1</sub>) applied {T} times to {n} points":
        "순방향: 점 {n}개에 q(x<sub>t</sub> | x<sub>t−1</sub>)를 {T}번 적용",
    "**Training** step {step} / {steps} · loss {loss} · {rate} steps/s · {elapsed} s elapsed · about {eta} s left":
        "**학습 중** 스텝 {step} / {steps} · 손실 {loss} · 초당 {rate} 스텝 · {elapsed}초 경과 · 약 {eta}초 남음",
    "Choose a shape first.": "먼저 모양을 고르세요.",
    "Train the model first (press Train).": "먼저 모델을 학습하세요 (학습 버튼을 누르세요).",
    "sampling, t = {t}": "샘플링 중, t = {t}",
    "✅ within 2× of the noise floor": "✅ 노이즈 플로어의 2배 이내입니다",
    "⏳ train longer to get within 2× of the floor": "⏳ 플로어의 2배 이내로 들어오려면 더 오래 학습하세요",
    "2,000 points": "점 2,000개",
    "sliced Wasserstein": "슬라이스 바서슈타인 거리",
    "energy distance": "에너지 거리",
    "generated ↔ fresh data": "생성한 점 ↔ 새 데이터",
    "data ↔ fresh data (noise floor)": "데이터 ↔ 새 데이터 (노이즈 플로어)",
    "ratio": "비율",
    "Reverse: p<sub>θ</sub>(x<sub>t−1</sub> | x<sub>t</sub>) from N(0, I), after {steps} training steps":
        "역방향: N(0, I)에서 시작한 p<sub>θ</sub>(x<sub>t−1</sub> | x<sub>t</sub>), {steps} 스텝 학습 후",
    # plots (ui/plots2d.py; the loss figure also serves the Train tab)
    "points": "점",
    "marginal of x₁": "x₁의 주변 분포",
    "marginal of x₂": "x₂의 주변 분포",
    "a few particles' paths": "몇몇 입자의 경로",
    "score −ε̂/√(1−ᾱ_t)": "스코어 −ε̂/√(1−ᾱ_t)",
    "N(0, I) at 1, 2, 3 σ": "N(0, I)의 1, 2, 3 σ 등고선",
    "▶ Play": "▶ 재생",
    "❚❚ Pause": "❚❚ 일시정지",
    "loss": "손실",
    "smoothed": "평활화",
    "step": "스텝",
}
