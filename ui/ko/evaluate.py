"""Korean for the evaluate texts (see ui/ko/__init__.py)."""

KO: dict[str, str] = {
    # layout: controls (labels, buttons, accordion)
    "Checkpoint": "체크포인트",
    "Images": "이미지",
    "Images to evaluate": "평가할 이미지",
    "Folder": "폴더",
    "Which": "범위",
    "Seed": "시드",
    "Terms": "항",
    "Strata": "층 수",
    "Reverse variance of p_θ": "p_θ의 역방향 분산",
    "Evaluate": "평가",
    "Stop": "중지",
    "Progressive decoding: what x_t still holds (DDPM Figs. 6 and 7)":
        "점진적 디코딩: x_t에 아직 남아 있는 것 (DDPM 그림 6, 7)",
    "Image #": "이미지 번호",
    "Steps t": "스텝 t",
    "Samples per t": "t마다 샘플 수",
    "Reverse steps from t": "t부터의 역방향 스텝",
    "Decode": "디코딩",
    # layout: choices (their values stay English)
    "Its own held-out data (bundled model)": "모델의 홀드아웃 데이터 (내장 모델)",
    "Upload images": "이미지 업로드",
    "A folder on this computer": "이 컴퓨터의 폴더",
    "all images": "모든 이미지",
    "its held-out share": "홀드아웃 몫",
    "its training share": "학습용 몫",
    "Every t (exact)": "모든 t (정확)",
    "Two t per stratum (faster)": "층마다 t 2개 (더 빠름)",
    "σₜ² = βₜ (paper)": "σₜ² = βₜ (논문)",
    "all of them": "전부",
    "at most 100 (respaced)": "최대 100 (간격 재조정)",
    # the checkpoint's summary ("No checkpoint chosen." is in ui/ko/sample.py, whose tab says it too)
    "{share} of its data was held out of training: evaluate on those images.":
        "데이터의 {share}를 학습에서 제외했습니다(홀드아웃): 그 이미지로 평가하세요.",
    # which images
    "{count} image": "이미지 {count}장",
    "{count} images": "이미지 {count}장",
    "{images} from {folder}/: {what}": "{folder}/의 {images}: {what}",
    "held-out images it never saw in training": "학습 중에 한 번도 보지 않은 홀드아웃 이미지",
    "⚠ its training images: it was trained on all of them, so this is a training-set figure":
        "⚠ 학습 이미지입니다: 모델이 이 이미지 전부로 학습했으므로 학습 세트에서 잰 수치입니다",
    "{count} uploaded image": "업로드한 이미지 {count}장",
    "{count} uploaded images": "업로드한 이미지 {count}장",
    "; {count} skipped: {names}": "; {count}개 건너뜀: {names}",
    "{what}; evaluating {count}": "{what}; {count}장 평가 중",
    # the streamed status
    "term <b>{done}</b> / {total}": "항 <b>{done}</b> / {total}",
    "{elapsed} s · {rate} terms/s": "{elapsed} s · 초당 {rate}항",
    " · {seconds} s left": " · 남은 시간 {seconds} s",
    "every t": "모든 t",
    "{count} sampled t per image (two per stratum)": "이미지마다 샘플링한 t {count}개 (층마다 2개)",
    "{value} ± {error} bits/dim": "{value} ± {error} 비트/차원",
    "± one standard error": "± 표준오차 1배",
    " (of the sampled t)": " (샘플링한 t에 대한)",
    "bits/dim": "비트/차원",
    "Where the bits go: {bands}": "비트가 쓰이는 곳: {bands}",
    "⏹ Stopped before the first term.": "⏹ 첫 항을 계산하기 전에 중지했습니다.",
    "⏹ Stopped after {done} of {total} terms: the total covers L_T and the terms from T down to there only.":
        "⏹ 항 {total}개 중 {done}개에서 중지했습니다: 합계에는 L_T와 T부터 그 지점까지의 항만 들어 있습니다.",
    "✅ Done in {seconds} s ({what}).": "✅ {seconds} s 만에 완료했습니다 ({what}).",
    # plot titles
    "the terms so far": "지금까지 계산한 항",
    "{bits} bits/dim in all": "전체 {bits} 비트/차원",
    # progressive decoding table
    "samples sharing x<sub>t</sub>": "x<sub>t</sub>를 공유하는 샘플",
    # messages
    "Only the bundled checkpoints come with their own data here: upload images instead.":
        "여기서는 내장 체크포인트만 자체 데이터를 함께 제공합니다: 대신 이미지를 업로드하세요.",
    "Only the bundled checkpoints come with their own data here: upload images or choose a folder instead.":
        "여기서는 내장 체크포인트만 자체 데이터를 함께 제공합니다: 대신 이미지를 업로드하거나 폴더를 선택하세요.",
    "Upload one or more images first.": "먼저 이미지를 하나 이상 업로드하세요.",
    "Type the path of a folder of images.": "이미지 폴더의 경로를 입력하세요.",
    "This checkpoint was trained without a held-out share: choose all images.":
        "이 체크포인트는 홀드아웃 없이 학습했습니다: 모든 이미지를 선택하세요.",
    "Choose where the images come from.": "이미지를 어디서 가져올지 선택하세요.",
    "An evaluation is still going in this tab: press Stop first.":
        "이 탭에서 평가가 아직 진행 중입니다: 먼저 중지를 누르세요.",
    "The number of images must be from 1 to {most}.": "이미지 수는 1부터 {most}까지여야 합니다.",
    "Choose σ² = β or β̃, and every t or a stratified sample.":
        "σ² = β 또는 β̃를, 그리고 모든 t 또는 층화 샘플을 선택하세요.",
    "Choose an image from 1 to {count}.": "1부터 {count}까지의 이미지를 선택하세요.",
    "Choose 0 to 8 samples per t.": "t마다 샘플을 0~8개로 선택하세요.",
    "'{part}' is not a step: list whole numbers from 1 to T, separated by commas.":
        "'{part}'은(는) 스텝이 아닙니다: 1부터 T까지의 정수를 쉼표로 구분해 입력하세요.",
    "List the steps t to decode from, separated by commas (e.g. 1000, 500, 100, 10).":
        "디코딩을 시작할 스텝 t를 쉼표로 구분해 입력하세요 (예: 1000, 500, 100, 10).",
    "At most 12 steps t at once.": "스텝 t는 한 번에 12개까지 입력할 수 있습니다.",
}
