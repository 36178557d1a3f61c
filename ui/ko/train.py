"""Korean for the train texts (see ui/ko/__init__.py)."""

KO: dict[str, str] = {
    # layout (ui/train_tab.py build())
    "Train a U-Net to predict the noise ε (Algorithm 1 of Ho et al. 2020) on your images. Small images train "
    "fastest on a CPU: 16×16 grey digits learn recognisable shapes in a few thousand steps.":
        "내 이미지로 노이즈 ε을 예측하는 U-Net을 학습합니다 (Ho et al. 2020의 Algorithm 1). CPU에서는 작은 이미지가 "
        "가장 빨리 학습됩니다: 16×16 흑백 숫자는 수천 스텝이면 알아볼 수 있는 모양을 익힙니다.",
    "Folder of images on this computer (searched recursively)": "이 컴퓨터의 이미지 폴더 (하위 폴더까지 검색)",
    "assets/digits: the bundled 1,797 handwritten digits (8×8, UCI)":
        "assets/digits: 함께 제공되는 손글씨 숫자 1,797장 (8×8, UCI)",
    "Upload images or one .zip": "이미지 또는 .zip 하나 업로드",
    "…or upload images or one .zip": "…또는 이미지나 .zip 하나를 업로드",
    "Image size (px)": "이미지 크기 (px)",
    "16 suits the bundled digits": "함께 제공되는 숫자에는 16이 알맞습니다",
    "Channels": "채널",
    "grey": "흑백",
    "colour": "컬러",
    "U-Net preset": "U-Net 프리셋",
    "Measuring speed on this machine…": "이 컴퓨터에서 속도를 재는 중…",
    # the preset choices (ui/train_tab.py _preset_choices; tests/test_i18n_train.py checks they are all here)
    "tiny (0.8 M parameters at 32×32)": "tiny (32×32에서 파라미터 0.8 M개)",
    "small (3.6 M parameters at 32×32)": "small (32×32에서 파라미터 3.6 M개)",
    "base (20.1 M parameters at 32×32)": "base (32×32에서 파라미터 20.1 M개)",
    "Batch size": "배치 크기",
    "Steps": "스텝 수",
    "More settings": "추가 설정",
    "Learning rate (after a linear warm-up)": "학습률 (선형 워밍업 후)",
    "EMA decay": "EMA 감쇠율",
    "Seed": "시드",
    "Preview samples every (steps; 0 = only at the end)": "미리보기 샘플 간격 (스텝; 0 = 끝날 때만)",
    "Random horizontal flips (not for digits or text)": "무작위 좌우 반전 (숫자나 글자에는 쓰지 마세요)",
    "Run name": "실행 이름",
    "Blank: a new name. Pick an earlier run to Resume it.":
        "비워 두면 새 이름을 붙입니다. 이전 실행을 고르면 이어서 학습할 수 있습니다.",
    "Start": "시작",
    "Stop": "중지",
    "Resume": "이어서 학습",
    "Training loss": "학습 손실",
    "Samples from the EMA model": "EMA 모델의 샘플",
    "Refresh the list": "목록 새로 고침",
    # names in the "… must be from … to …" messages (ui/ko/messages.py translates the names it captures)
    "Image size": "이미지 크기",
    "Learning rate": "학습률",
    "Preview every (steps)": "미리보기 간격 (스텝)",
    # the preset estimate
    "{preset}: {params} M parameters · about {duration} per 100 steps here (batch {batch}, {size}×{size} {kind})":
        "{preset}: 파라미터 {params} M개 · 이 컴퓨터에서 100 스텝에 약 {duration} (배치 {batch}, {size}×{size} {kind})",
    "{seconds} s": "{seconds}초",
    "{minutes} min": "{minutes}분",
    "{hours} h": "{hours}시간",
    # the status box
    "step {step} / {steps} · loss {loss} · {rate} it/s ({images} images/s) · {elapsed} elapsed · ETA {eta}":
        "스텝 {step} / {steps} · 손실 {loss} · {rate} it/s (초당 이미지 {images}장) · {elapsed} 경과 · 남은 시간 {eta}",
    "training progress": "학습 진행",
    "⏳ Starting run <b>{name}</b>: reading the images…": "⏳ 실행 <b>{name}</b>을(를) 시작합니다: 이미지를 읽는 중…",
    "⏳ Resuming run <b>{name}</b>: reading the images…":
        "⏳ 실행 <b>{name}</b>을(를) 이어서 학습합니다: 이미지를 읽는 중…",
    "⏳ Run <b>{name}</b>: loading the images and building the network…":
        "⏳ 실행 <b>{name}</b>: 이미지를 불러오고 신경망을 만드는 중…",
    "🏋️ Training run <b>{name}</b>": "🏋️ 실행 <b>{name}</b> 학습 중",
    "Samples: the EMA model at step {step}.": "샘플: 스텝 {step}의 EMA 모델입니다.",
    "✅ Finished run <b>{name}</b> at step {step}; checkpoint saved to {where}.":
        "✅ 실행 <b>{name}</b>을(를) 스텝 {step}에서 마쳤습니다. 체크포인트를 {where}에 저장했습니다.",
    "⏹️ Stopped at step {step}; checkpoint saved — press <b>Resume</b> to continue run <b>{name}</b>.":
        "⏹️ 스텝 {step}에서 중지했습니다. 체크포인트를 저장했습니다 — 실행 <b>{name}</b>을(를) 계속하려면 "
        "<b>이어서 학습</b>을 누르세요.",
    "❌ Run <b>{name}</b> ended with an error at step {step}: {message}":
        "❌ 실행 <b>{name}</b>이(가) 스텝 {step}에서 오류로 끝났습니다: {message}",
    "Nothing is training in this session.": "이 세션에서 학습 중인 것이 없습니다.",
    "⏳ Stopping: saving a checkpoint after the current step…": "⏳ 중지하는 중: 현재 스텝이 끝나면 체크포인트를 저장합니다…",
    # the data summary (ddpm_core's, rebuilt by ui/train_tab.py data_line)
    "{count} images from {folder}/ at {size}×{size} {kind}": "{folder}/의 이미지 {count}장, {size}×{size} {kind}",
    ", randomly flipped": ", 무작위 좌우 반전",
    " ({count} held out for evaluation)": " (평가용으로 {count}장 제외)",
    "; {count} files skipped: {names}": "; 파일 {count}개 건너뜀: {names}",
    "; {count} other files ignored (not an image type)": "; 이미지 형식이 아닌 파일 {count}개 무시",
    "Only one image: the model will memorise it — a classic classroom demo.":
        "이미지가 하나뿐입니다: 모델이 그 이미지를 외우게 됩니다 — 수업에서 흔히 보여 주는 예입니다.",
    # the checkpoint list
    "step {step} · {size}×{size} {kind} · {preset}": "스텝 {step} · {size}×{size} {kind} · {preset}",
    "No checkpoints yet: a run saves `model.safetensors` every 500 steps, at its end and on Stop.":
        "아직 체크포인트가 없습니다: 실행은 500 스텝마다, 끝날 때, 그리고 중지할 때 `model.safetensors`를 저장합니다.",
    "**Checkpoints** (your trained models)": "**체크포인트** (내가 학습한 모델)",
    "run": "실행",
    "checkpoint": "체크포인트",
    # messages
    "Run '{name}' is training right now; choose another run name.":
        "실행 '{name}'은(는) 지금 학습 중입니다. 다른 실행 이름을 고르세요.",
    "A run name is 1–64 letters, digits, '.', '_' or '-', starting with a letter or digit; got {name}.":
        "실행 이름은 글자, 숫자, '.', '_', '-'로 된 1–64자이며 글자나 숫자로 시작해야 합니다. 입력: {name}.",
    "This server takes uploaded images only; a folder path is not accepted.":
        "이 서버는 업로드한 이미지만 받습니다. 폴더 경로는 받지 않습니다.",
    "Give a folder path or upload files, not both: clear one of them.":
        "폴더 경로를 입력하거나 파일을 업로드하세요. 둘 다는 안 됩니다: 하나를 지우세요.",
    "Upload images or one .zip of images first.": "먼저 이미지나 이미지가 든 .zip 하나를 업로드하세요.",
    "Choose the training images: type a folder path or upload images (or one .zip).":
        "학습할 이미지를 고르세요: 폴더 경로를 입력하거나 이미지(또는 .zip 하나)를 업로드하세요.",
    "Unknown preset {preset}; choose one of {presets}.": "알 수 없는 프리셋 {preset}입니다. {presets} 중에서 고르세요.",
    "Channels must be 1 (grey) or 3 (colour).": "채널은 1 (흑백) 또는 3 (컬러)이어야 합니다.",
    "This session is already training; press Stop first.": "이 세션은 이미 학습 중입니다. 먼저 중지를 누르세요.",
    "Run '{name}' already has a checkpoint (step {step}). Press Resume to continue it, or choose a new run name.":
        "실행 '{name}'에는 이미 체크포인트가 있습니다 (스텝 {step}). 계속하려면 이어서 학습을 누르거나 새 실행 이름을 "
        "고르세요.",
    "Run '{name}' has no checkpoint to resume; press Start to begin it.":
        "실행 '{name}'에는 이어서 학습할 체크포인트가 없습니다. 시작을 눌러 새로 시작하세요.",
    "Run '{name}' is already at step {step}; set Steps above {step} to train further.":
        "실행 '{name}'은(는) 이미 스텝 {step}에 있습니다. 더 학습하려면 스텝 수를 {step}보다 크게 하세요.",
}
