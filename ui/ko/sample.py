"""Korean for the sample texts (see ui/ko/__init__.py)."""

from pathlib import Path

KO: dict[str, str] = {
    # layout
    "Checkpoint": "체크포인트",
    "Upload a checkpoint (.safetensors)": "체크포인트 업로드 (.safetensors)",
    "Sampler": "샘플러",
    "DDPM (Algorithm 2)": "DDPM (알고리즘 2)",
    "Steps": "스텝 수",
    "1 to T: fewer steps skip along the chain": "1부터 T까지: 스텝이 적으면 연쇄를 건너뛰며 진행합니다",
    "Images": "이미지",
    "DDPM variance": "DDPM 분산",
    "σₜ² = βₜ (paper)": "σₜ² = βₜ (논문)",
    "DDIM η (0: deterministic, 1: DDPM's variance)": "DDIM η (0: 결정적, 1: DDPM의 분산)",
    "Seed": "시드",
    "Device": "장치",
    "Clip x̂₀ to [−1, 1]": "x̂₀를 [−1, 1]로 클리핑",
    "Also show ε̂": "ε̂도 표시",
    "Sample": "샘플링",
    "Stop": "중지",
    "Compare samplers": "샘플러 비교",
    "Choose a checkpoint and press <b>Sample</b>.": "체크포인트를 고르고 <b>샘플링</b>을 누르세요.",
    "Final samples": "최종 샘플",
    "Per-step statistics": "스텝별 통계",
    "Export GIF": "GIF 내보내기",
    "Export MP4": "MP4 내보내기",
    "Export WebM": "WebM 내보내기",
    "Grid as PNG": "그리드를 PNG로",
    "Download": "다운로드",
    # the checkpoint picker (refreshed by callbacks; the bundled files' labels are added below)
    "{name} (bundled)": "{name} (내장)",
    "{name} (trained here)": "{name} (여기서 학습)",
    "{name} (uploaded)": "{name} (업로드)",
    # the checkpoint's summary (also shown by the Evaluate tab)
    "No checkpoint chosen.": "체크포인트를 고르지 않았습니다.",
    "**{name}** · trained {steps} steps on *{data}*{counts}": "**{name}** · *{data}*{counts}로 {steps} 스텝 학습",
    "({count} images, {held} held out)": "(이미지 {count}장, 홀드아웃 {held}장)",
    "({count} images)": "(이미지 {count}장)",
    "unknown data": "알 수 없는 데이터",
    "{size}×{size} {colour} · U-Net *{preset}* ({params} parameters) · {schedule} β, T = {T} · "
    "{prediction}-prediction":
        "{size}×{size} {colour} · U-Net *{preset}* (파라미터 {params}개) · {schedule} β, T = {T} · {prediction} 예측",
    "grey": "흑백",
    "colour": "컬러",
    "custom": "사용자 지정",
    "1 to T = {T}: fewer steps skip along the chain": "1부터 T = {T}까지: 스텝이 적으면 연쇄를 건너뛰며 진행합니다",
    # the live view
    "Starting…": "시작하는 중…",
    "step <b>{index}</b> / {count}": "스텝 <b>{index}</b> / {count}",
    "{rate} steps/s": "초당 {rate} 스텝",
    "{seconds} s left": "남은 시간 {seconds} s",
    "x<sub>t</sub> (the sample)": "x<sub>t</sub> (샘플)",
    "x̂<sub>0</sub> (the network's guess)": "x̂<sub>0</sub> (신경망의 추정)",
    "ε̂ (predicted noise)": "ε̂ (예측한 노이즈)",
    "({run} of {runs})": "({runs}개 중 {run}번째)",
    "{count} steps": "{count} 스텝",
    "Stopped after {index} of {count} steps.": "{count} 스텝 중 {index} 스텝에서 중지했습니다.",
    "Done: {count} steps in {seconds} s.": "완료: {count} 스텝, {seconds} s.",
    "(stopped)": "(중지됨)",
    "Same seed, same number of steps, same starting noise:": "같은 시드, 같은 스텝 수, 같은 시작 노이즈:",
    # messages
    "Choose a checkpoint from the list (or upload one): that one is not available.":
        "목록에서 체크포인트를 고르세요(또는 업로드하세요): 그 체크포인트는 사용할 수 없습니다.",
    "'{name}' holds a 2-D model, not an image model; sample it in the 2-D lab":
        "'{name}'에는 이미지 모델이 아니라 2-D 모델이 들어 있습니다. 2-D 실습 탭에서 샘플링하세요",
    "'{name}' is larger than {mb} MB, the most this app accepts":
        "'{name}'은(는) 이 앱이 받는 최대 크기인 {mb} MB보다 큽니다",
    "That file cannot be sampled: {reason}": "그 파일은 샘플링할 수 없습니다: {reason}",
    "The number of images must be from 1 to {most}.": "이미지 수는 1부터 {most}까지여야 합니다.",
    "Steps and a seed from 0 to {most} are needed.": "스텝 수와 0부터 {most}까지의 시드가 필요합니다.",
    "Choose DDPM or DDIM, and σ² = β or β̃.": "DDPM 또는 DDIM을, 그리고 σ² = β 또는 β̃를 고르세요.",
    "Device {device} is not present here; choose one of {devices}.":
        "장치 {device}은(는) 여기에 없습니다. {devices} 중에서 고르세요.",
    "A sampling run is still going in this tab: press Stop first.":
        "이 탭에서 샘플링이 아직 진행 중입니다: 먼저 중지를 누르세요.",
    "A run is still going: wait for it to finish (or press Stop), then export its animation.":
        "실행이 아직 진행 중입니다: 끝날 때까지 기다린 뒤(또는 중지를 누른 뒤) 애니메이션을 내보내세요.",
    "Sample first: there is nothing to export its animation yet.":
        "먼저 샘플링하세요: 아직 내보낼 애니메이션이 없습니다.",
    "A run is still going: wait for it to finish (or press Stop), then download its grid.":
        "실행이 아직 진행 중입니다: 끝날 때까지 기다린 뒤(또는 중지를 누른 뒤) 그리드를 다운로드하세요.",
    "Sample first: there is nothing to download its grid yet.":
        "먼저 샘플링하세요: 아직 다운로드할 그리드가 없습니다.",
}

# The picker's first labels are built with the layout, one per bundled checkpoint (ui/sample_tab.py):
# the page translates them by key.
_BUNDLED = Path(__file__).resolve().parents[2] / "checkpoints"
KO.update({f"{p.stem} (bundled)": f"{p.stem} (내장)" for p in sorted(_BUNDLED.glob("*.safetensors"))
           if not p.name.endswith(".state.safetensors")})
