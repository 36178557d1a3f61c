"""Korean for ddpm_core's messages (English ValueErrors with numbers and names in them).

Each entry is (a regular expression matching one English message in full, its Korean with \\1, \\2…
for the captured parts). `ui.i18n.message` tries them in order; an unmatched message stays English.
A captured part that is a catalogue key ("Seed", "Batch size") is translated too; numbers, file names
and values are kept as they are. At most nine captured parts a message (`\\1`–`\\9`).

Sources: every ValueError (and subclass: CheckpointError, DataError, ImageError, UploadError) and
TrainingError a user can reach from the app in ddpm_core/*.py, the RuntimeError of a busy sampling
pool (server/sample_process.py, which the Sample tab shows), ui/schedule_controls.py's `integer()`,
`number()` and `parse_config()`, server/settings.py, and the folder summary line of ddpm_core/data.py
(the Evaluate tab passes it through `message()`).

Left out, as programming errors no input from the page reaches: wrong tensor shapes
(diffusion.py's betas shape, distances.py, unet.py's input shape, evaluate.py's image shape is kept
since a checkpoint can disagree with a folder), nn.py's embedding dimension, sample_process.py's pool
size, checkpoints.py's "cannot save a …" (an unknown network class), uploads.py's "… is not empty"
(the server picks the folder), animation.py's file suffix and empty frame list (the app names the
files), and the command-line-only messages of evaluate.py, sample.py and train.py (--split, --out,
--gif, --video, --frames, --data).
"""

import re

N = r"(-?[\d,]+)"  # a whole number as the core writes it ("1,000")
MB = r"([\d,.]+ MB)"

_RAW: list[tuple[str, str]] = [
    # ---- server/settings.py: the deployment's environment ---------------------------------------------------
    (r"DDPM_DEMO must be 1 or 0, got (.*)",
     r"DDPM_DEMO는 1 또는 0이어야 합니다(입력값: \1)"),
    (r"(DDPM_MAX_RUNS|DDPM_SAMPLE_MEMORY_MB) must be at least 1, got (.*)",
     r"\1은(는) 1 이상이어야 합니다(입력값: \2)"),

    # ---- ddpm_core/images.py: one uploaded image ---------------------------------------------------------
    (r"'(.+)' could not be read \(no such file\)\.",
     r"'\1' 파일을 읽을 수 없습니다(파일이 없습니다)."),
    (r"'(.+)' is empty \(0 bytes\)\.",
     r"'\1' 파일이 비어 있습니다(0바이트)."),
    (rf"'(.+)' is {N} MB; images up to {N} MB are accepted\.",
     r"'\1' 파일은 \2 MB입니다. 이미지는 \3 MB까지 받습니다."),
    (rf"'(.+)' is too large to decode safely \({N}×{N} pixels, {N} MP\); the limit is {N} MP\. "
     r"Please downscale it first\.",
     r"'\1' 파일은 안전하게 디코딩하기에 너무 큽니다(\2×\3 픽셀, \4 MP). 한도는 \5 MP입니다. "
     r"먼저 크기를 줄여 주세요."),
    (rf"'(.+)' is too large to decode safely \({N} MP\); the limit is {N} MP\. Please downscale it first\.",
     r"'\1' 파일은 안전하게 디코딩하기에 너무 큽니다(\2 MP). 한도는 \3 MP입니다. 먼저 크기를 줄여 주세요."),
    (rf"'(.+)' is too large to decode safely \(too many pixels\); the limit is {N} MP\. "
     r"Please downscale it first\.",
     r"'\1' 파일은 안전하게 디코딩하기에 너무 큽니다(픽셀이 너무 많습니다). 한도는 \2 MP입니다. "
     r"먼저 크기를 줄여 주세요."),
    (r"'(.+)' is not an image this app can read \(PNG, JPEG, WebP, BMP, GIF, TIFF\)\.",
     r"'\1' 파일은 이 앱이 읽을 수 있는 이미지가 아닙니다(PNG, JPEG, WebP, BMP, GIF, TIFF)."),
    (r"'(.+)' is damaged or truncated and could not be decoded \((\w+)\)\.",
     r"'\1' 파일이 손상되었거나 잘려서 디코딩할 수 없습니다(\2)."),
    (r"'(.+)' is damaged or truncated and could not be decoded\.",
     r"'\1' 파일이 손상되었거나 잘려서 디코딩할 수 없습니다."),
    (r"channels must be 1 \(grey\) or 3 \(colour\), got (.+)\.",
     r"채널 수는 1(흑백) 또는 3(컬러)이어야 합니다(입력값: \1)."),
    (rf"resolution must be from {N} to {N}, got (.+)\.",
     r"해상도는 \1부터 \2까지여야 합니다(입력값: \3)."),

    # ---- ddpm_core/data.py: a training folder -----------------------------------------------------------
    (rf"image size must be a whole number from {N} to {N}, got (.+)\.",
     r"이미지 크기는 \1부터 \2까지의 정수여야 합니다(입력값: \3)."),
    (r"'(.+)' is not a folder; choose a folder of images\.",
     r"'\1'은(는) 폴더가 아닙니다. 이미지 폴더를 고르세요."),
    (r"'(.+)' does not exist; choose a folder of images\.",
     r"'\1' 폴더가 없습니다. 이미지 폴더를 고르세요."),
    (rf"All {N} image files? in (.+)/ fall in the held-out share \((\d+)% held out\): lower the held-out share\.",
     r"\2/의 이미지 파일 \1개가 모두 홀드아웃 몫에 들어갑니다(\3% 홀드아웃). 홀드아웃 비율을 낮추세요."),
    (rf"All {N} image files? in (.+)/ fall in the training share \((\d+)% held out\): "
     r"the folder is too small to hold any out\.",
     r"\2/의 이미지 파일 \1개가 모두 학습 몫에 들어갑니다(\3% 홀드아웃). 폴더가 너무 작아 홀드아웃할 이미지가 "
     r"없습니다."),
    (rf"None of the {N} image files? in (.+)/ could be read: (.+)\.",
     r"\2/의 이미지 파일 \1개 중 읽을 수 있는 파일이 없습니다: \3."),
    (r"(.+) could not be read during training: (.+)\.",
     r"\1 파일을 학습 중에 읽을 수 없습니다: \2."),
    (r"the held-out share must be in \[0, 1\), got (.+)",
     r"홀드아웃 비율은 [0, 1) 범위여야 합니다(입력값: \1)"),
    (r"the held-out share must be from 0 to 0\.5, got (.+)",
     r"홀드아웃 비율은 0부터 0.5까지여야 합니다(입력값: \1)"),
    (r"unknown split (.+); choose one of (.+)",
     r"알 수 없는 분할 \1입니다. 다음 중에서 고르세요: \2"),

    # ---- server/uploads.py: uploaded images and zips -------------------------------------------------
    (r"Upload some images, or one \.zip of images, first\.",
     r"먼저 이미지 몇 장이나 이미지가 담긴 .zip 하나를 업로드하세요."),
    (r"Upload one \.zip at a time; got (\d+): (.+)\.",
     r".zip은 한 번에 하나만 업로드하세요. 받은 파일 \1개: \2."),
    (r"'(.+)' holds no images \(looked for (.+), in any case; nested archives are not opened\)\.",
     r"'\1'에 이미지가 없습니다(찾은 확장자: \2, 대소문자 무관. 안에 든 압축 파일은 열지 않습니다)."),
    (r"None of the uploaded files is an image or a \.zip: (.+)\.",
     r"업로드한 파일 중 이미지나 .zip이 없습니다: \1."),
    (rf"{N} files uploaded; at most {N} are accepted here\. Upload fewer, or one \.zip\.",
     r"파일 \1개를 업로드했습니다. 여기서는 최대 \2개까지 받습니다. 더 적게 올리거나 .zip 하나로 올리세요."),
    (rf"The uploads total {MB}; at most {MB} are accepted here\. Use fewer or smaller images "
     r"\(they are resized to at most 128 px anyway\)\.",
     r"업로드한 파일이 모두 \1입니다. 여기서는 최대 \2까지 받습니다. 이미지를 더 적게 또는 더 작게 올리세요"
     r"(어차피 최대 128 px로 줄입니다)."),
    (rf"'(.+)' has {N} entries; at most {N} are accepted here\.",
     r"'\1'에 항목이 \2개 있습니다. 여기서는 최대 \3개까지 받습니다."),
    (rf"'(.+)' holds {N} images \(plus {N} uploaded beside it\); at most {N} are accepted here\.",
     r"'\1'에 이미지가 \2개 있습니다(함께 업로드한 \3개 별도). 여기서는 최대 \4개까지 받습니다."),
    (rf"The images in '(.+)' would take {MB} unpacked; at most {MB} are accepted here\.",
     r"'\1'의 이미지를 풀면 \2가 됩니다. 여기서는 최대 \3까지 받습니다."),
    (r"'(.+)' contains '(.+)', a path outside the folder it unpacks into \(absolute or with '\.\.'\); "
     r"nothing was extracted\.",
     r"'\1'에 든 '\2'은(는) 압축을 푸는 폴더 밖을 가리키는 경로입니다(절대 경로이거나 '..' 포함). "
     r"아무것도 풀지 않았습니다."),
    (r"'(.+)' contains '(.+)', a symbolic link; links are not accepted, nothing was extracted\.",
     r"'\1'에 든 '\2'은(는) 심볼릭 링크입니다. 링크는 받지 않으며 아무것도 풀지 않았습니다."),
    (r"'(.+)' contains '(.+)', which is encrypted; upload a zip without a password\.",
     r"'\1'에 든 '\2'은(는) 암호화되어 있습니다. 암호 없는 zip을 업로드하세요."),
    (rf"'(.+)' contains '(.+)', which unpacks {N} times larger \({MB}\): a zip bomb\? "
     rf"At most {N}:1 is accepted; nothing was extracted\.",
     r"'\1'에 든 '\2'은(는) 풀면 \3배 커집니다(\4). zip 폭탄일까요? 최대 \5:1까지만 받으며 아무것도 "
     r"풀지 않았습니다."),
    (r"'(.+)' is not a regular file\.",
     r"'\1'은(는) 일반 파일이 아닙니다."),
    (r"'(.+)' is not a readable zip file \((.+)\)\.",
     r"'\1'은(는) 읽을 수 있는 zip 파일이 아닙니다(\2)."),
    (r"'(.+)' entry '(.+)' would land outside the folder\.",
     r"'\1'의 항목 '\2'이(가) 폴더 밖에 풀리게 됩니다."),
    (r"'(.+)' entry '(.+)' could not be extracted \((.+)\)\.",
     r"'\1'의 항목 '\2'을(를) 풀 수 없습니다(\3)."),
    (r"'(.+)' entry '(.+)' unpacks to more than its header says; the zip is refused\.",
     r"'\1'의 항목 '\2'이(가) 헤더에 적힌 것보다 크게 풀립니다. 이 zip은 받지 않습니다."),

    # ---- ddpm_core/checkpoints.py: uploaded or chosen checkpoints ----------------------------------------
    (r"'(.+)' does not exist or is not a file",
     r"'\1' 파일이 없거나 파일이 아닙니다"),
    (r"'(.+)' is not a readable safetensors file \(damaged, truncated, or another format\): (.+)",
     r"'\1'은(는) 읽을 수 있는 safetensors 파일이 아닙니다(손상되었거나 잘렸거나 다른 형식): \2"),
    (r"'(.+)' is a safetensors file but not a DDPM Explorer checkpoint "
     r"\(its metadata has no 'format: ddpm-explorer'\)",
     r"'\1'은(는) safetensors 파일이지만 DDPM Explorer 체크포인트가 아닙니다"
     r"(메타데이터에 'format: ddpm-explorer'가 없습니다)"),
    (rf"'(.+)' has checkpoint format version (.*); this app reads versions up to {N}\. Update the app\.",
     r"'\1'의 체크포인트 형식 버전은 \2입니다. 이 앱은 버전 \3까지 읽습니다. 앱을 업데이트하세요."),
    (rf"'(.+)' has {N} bytes of configuration; at most {N} are accepted",
     r"'\1'의 설정이 \2바이트입니다. 최대 \3바이트까지 받습니다"),
    (r"'(.+)' has malformed configuration JSON \((.+)\)",
     r"'\1'의 설정 JSON 형식이 잘못되었습니다(\2)"),
    (r"'(.+)' configuration is not a JSON object",
     r"'\1'의 설정이 JSON 객체가 아닙니다"),
    (r"the (.+) configuration is not a JSON object",
     r"\1 설정이 JSON 객체가 아닙니다"),
    (r"the (.+) configuration has unknown fields (.+); known: (.+)",
     r"\1 설정에 알 수 없는 필드 \2이(가) 있습니다. 알려진 필드: \3"),
    (r"the (.+) configuration is invalid: (.+)",
     r"\1 설정이 올바르지 않습니다: \2"),
    (r"(.+) should be a list, got (.+)",
     r"\1은(는) 리스트여야 합니다(입력값의 형식: \2)"),
    (r"(.+) should be (int|float|bool|str), got (.+)",
     r"\1은(는) \2 형식이어야 합니다(입력값: \3)"),
    (r"unknown architecture (.+); this app knows (.+)",
     r"알 수 없는 구조 \1입니다. 이 앱이 아는 구조: \2"),
    (r"the weights do not fit the configured network; (.+)",
     r"가중치가 설정된 신경망과 맞지 않습니다. \1"),
    (r"'(.+)' has an invalid schedule: (.+)",
     r"'\1'의 스케줄이 올바르지 않습니다: \2"),
    (r"'(.+)' has unknown prediction type (.+)",
     r"'\1'의 예측 유형 \2을(를) 알 수 없습니다"),
    (r"'(.+)' is not a DDPM Explorer training state",
     r"'\1'은(는) DDPM Explorer 학습 상태 파일이 아닙니다"),
    (r"'(.+)' does not fit this optimiser: (.+)",
     r"'\1'이(가) 이 옵티마이저와 맞지 않습니다: \2"),
    (r"'(.+)' could not be read: (.+?)\.?",
     r"'\1' 파일을 읽을 수 없습니다: \2."),
    (r"'(.+)' holds a different network \((.+)\); resume with the settings it was trained with",
     r"'\1'에는 다른 신경망(\2)이 들어 있습니다. 학습할 때의 설정으로 이어서 학습하세요"),

    # ---- ddpm_core/schedules.py and diffusion.py: β schedules ------------------------------------------
    (r"unknown schedule (.+); choose one of (.+)",
     r"알 수 없는 스케줄 \1입니다. 다음 중에서 고르세요: \2"),
    (rf"T must be an integer from {N} to {N}, got (.+)",
     r"T는 \1부터 \2까지의 정수여야 합니다(입력값: \3)"),
    (r"schedule '(.+)' does not take (.+); it takes (.+)",
     r"스케줄 '\1'은(는) \2을(를) 받지 않습니다. 받는 파라미터: \3"),
    (r"rescale must be True or False, got (.+)",
     r"rescale은 True 또는 False여야 합니다(입력값: \1)"),
    (r"cosine offset s must be in \[0, 1\], got (.+)",
     r"cosine 오프셋 s는 [0, 1] 범위여야 합니다(입력값: \1)"),
    (r"(.+) must be a finite number, got (.+)",
     r"\1은(는) 유한한 숫자여야 합니다(입력값: \2)"),
    (rf"schedule '(.+)' with T={N} and default parameters gives β_{N} = (.+); every β_t must lie in \(0, 1\)",
     r"스케줄 '\1'(T=\2, 기본 파라미터)에서 β_\3 = \4입니다. 모든 β_t는 (0, 1) 안에 있어야 합니다"),
    (rf"schedule '(.+)' with T={N} and (.+) gives β_{N} = (.+); every β_t must lie in \(0, 1\) "
     r"\(rescaling multiplies the endpoints by 1000/T; turn it off or use a larger T\)",
     r"스케줄 '\1'(T=\2, \3)에서 β_\4 = \5입니다. 모든 β_t는 (0, 1) 안에 있어야 합니다"
     r"(재조정은 양 끝값에 1000/T를 곱합니다. 재조정을 끄거나 더 큰 T를 쓰세요)"),
    (rf"schedule '(.+)' with T={N} and (.+) gives β_{N} = (.+); every β_t must lie in \(0, 1\)",
     r"스케줄 '\1'(T=\2, \3)에서 β_\4 = \5입니다. 모든 β_t는 (0, 1) 안에 있어야 합니다"),
    (r"every β_t must lie in \(0, 1\)",
     r"모든 β_t는 (0, 1) 안에 있어야 합니다"),
    (rf"num_steps must be from 0 to T = {N}, got (.+)",
     r"스텝 수는 0부터 T = \1까지여야 합니다(입력값: \2)"),

    # ---- ddpm_core/sample.py, samplers.py, sample_process.py: sampling ----------------------------------
    (r"unknown sampler (.+); choose one of (.+)",
     r"알 수 없는 샘플러 \1입니다. 다음 중에서 고르세요: \2"),
    (rf"steps must be from 1 to T = {N} \(the checkpoint's T\), got (.+)",
     r"스텝 수는 1부터 T = \1(체크포인트의 T)까지여야 합니다(입력값: \2)"),
    (rf"steps must be from 1 to T = {N}, got (.+)",
     r"스텝 수는 1부터 T = \1까지여야 합니다(입력값: \2)"),
    (rf"start must be a step from 1 to T = {N}, got (.+)",
     r"시작 스텝은 1부터 T = \1까지여야 합니다(입력값: \2)"),
    (r"η must lie in \[0, 1\], got (.+)",
     r"η는 [0, 1] 범위여야 합니다(입력값: \1)"),
    (r"unknown variance (.+); choose one of (.+)",
     r"알 수 없는 분산 \1입니다. 다음 중에서 고르세요: \2"),
    (r"unknown variance (.+); choose beta or beta_tilde",
     r"알 수 없는 분산 \1입니다. beta 또는 beta_tilde 중에서 고르세요"),
    (rf"the number of images must be from 1 to {N}, got (.+)",
     r"이미지 수는 1부터 \1까지여야 합니다(입력값: \2)"),
    (r"unknown precision (.+); choose one of (.+)",
     r"알 수 없는 정밀도 \1입니다. 다음 중에서 고르세요: \2"),
    (r"the seed must be a non-negative integer below 2⁶³, got (.+)",
     r"시드는 2⁶³보다 작은 0 이상의 정수여야 합니다(입력값: \1)"),
    (r"'(.+)' holds a (.+) model of 2-D points, not an image model; sample it in the 2-D lab",
     r"'\1'에는 이미지 모델이 아니라 2-D 점의 \2 모델이 들어 있습니다. 2-D 실험실에서 샘플링하세요"),
    (rf"{N} images of {N}×{N} would not fit in the memory one run may use here "
     rf"\(half of what is free, or the server's limit per run\); at most {N} at once",
     r"\2×\3 이미지 \1장은 여기서 실행 한 번이 쓸 수 있는 메모리(남은 메모리의 절반 또는 서버의 실행당 한도)에 "
     r"들어가지 않습니다. 한 번에 최대 \4장까지 가능합니다"),
    (r"device (.+) is not present on this machine; present here: (.+)",
     r"장치 \1이(가) 이 컴퓨터에 없습니다. 사용할 수 있는 장치: \2"),
    (r"device (.+) is not present on this machine",
     r"장치 \1이(가) 이 컴퓨터에 없습니다"),
    (r"(.+); present here: (.+)",
     r"\1. 사용할 수 있는 장치: \2"),
    (r"(\d+) sampling run\(s\) are going on this server already; try again in a moment",
     r"이 서버에서 이미 샘플링 실행 \1개가 진행 중입니다. 잠시 후 다시 시도하세요"),
    (r"the sampling job did not finish within (.+) s",
     r"샘플링 작업이 \1초 안에 끝나지 않았습니다"),
    (r"unknown prediction type (.+); choose one of (.+)",
     r"알 수 없는 예측 유형 \1입니다. 다음 중에서 고르세요: \2"),
    (r"unknown prediction type (.+); choose eps, x0 or v",
     r"알 수 없는 예측 유형 \1입니다. eps, x0, v 중에서 고르세요"),

    # ---- ddpm_core/progressive.py: progressive decoding --------------------------------------------------
    (rf"every step t must be a whole number from 1 to T = {N}, got (.+)",
     r"모든 스텝 t는 1부터 T = \1까지의 정수여야 합니다(입력값: \2)"),
    (r"choose at least one step t",
     r"스텝 t를 하나 이상 고르세요"),

    # ---- ddpm_core/evaluate.py and likelihood.py: the variational bound ---------------------------------
    (r"the number of images must be at least 1, got (.+)",
     r"이미지 수는 1 이상이어야 합니다(입력값: \1)"),
    (r"the number of strata must be at least 1, got (.+)",
     r"층 수는 1 이상이어야 합니다(입력값: \1)"),
    (r"None of the files could be read as an image: (.+)",
     r"어떤 파일도 이미지로 읽을 수 없습니다: \1"),
    (r"'(.+)' holds a 2-D model, not an image model",
     r"'\1'에는 이미지 모델이 아니라 2-D 모델이 들어 있습니다"),
    (r"the images are \((.+)\) but the model takes \((.+)\) \(C, H, W\)",
     r"이미지는 (\1)인데 모델은 (\2)을(를) 받습니다 (C, H, W)"),
    (r"no term of the bound has been evaluated yet",
     r"아직 평가한 하한의 항이 없습니다"),

    # ---- ddpm_core/train.py and unet.py: training settings ----------------------------------------------
    (r"unknown preset (.+); choose one of (.+)",
     r"알 수 없는 프리셋 \1입니다. 다음 중에서 고르세요: \2"),
    (r"unknown U-Net preset (.+); choose one of (.+)",
     r"알 수 없는 U-Net 프리셋 \1입니다. 다음 중에서 고르세요: \2"),
    (r"unknown prediction (.+); choose one of (.+)",
     r"알 수 없는 예측 \1입니다. 다음 중에서 고르세요: \2"),
    (r"need 0 < lr ≤ 1, 0 ≤ ema_decay < 1 and grad_clip > 0",
     r"0 < lr ≤ 1, 0 ≤ ema_decay < 1, grad_clip > 0이어야 합니다"),
    (r"the loss became NaN or infinite at step (\d+); training stopped\. The last checkpoint \(step (.+)\) is "
     r"intact; try a lower learning rate\.",
     r"스텝 \1에서 손실이 NaN 또는 무한대가 되어 학습을 멈췄습니다. 마지막 체크포인트(스텝 \2)는 온전합니다. "
     r"학습률을 낮춰 보세요."),
    (r"dropout must be in \[0, 1\), got (.+)",
     r"dropout은 [0, 1) 범위여야 합니다(입력값: \1)"),
    (r"channel_mults must be a non-empty list of positive integers, got (.+)",
     r"channel_mults는 양의 정수로 된 비어 있지 않은 리스트여야 합니다(입력값: \1)"),
    (r"channels must be 1 \(grey\) or 3 \(RGB\), got (.+)",
     r"채널 수는 1(흑백) 또는 3(RGB)이어야 합니다(입력값: \1)"),
    (rf"image_size {N} is not supported with {N} levels: it must be {N}–{N} and a multiple of {N}, "
     rf"e\.g\. (.+), … {N}",
     r"image_size \1은(는) 단계 \2개로는 지원되지 않습니다. \3–\4 사이의 \5의 배수여야 합니다"
     r"(예: \6, … \7)"),
    (r"base_channels must be a positive multiple of 4 \(GroupNorm wants at least 4 channels per group, "
     r"see norm_groups\), got (.+)",
     r"base_channels는 4의 양의 배수여야 합니다(GroupNorm은 그룹마다 채널이 4개 이상 필요합니다. "
     r"norm_groups 참고)(입력값: \1)"),
    (rf"attention_resolutions (.+) never occur: at image_size {N} the feature maps are (.+) pixels wide",
     r"attention_resolutions \1은(는) 나타나지 않습니다. image_size \2에서 특징 맵의 너비는 \3 픽셀입니다"),
    (rf"num_heads {N} must divide the attended widths (.+)",
     r"num_heads \1은(는) 어텐션을 적용하는 너비 \2을(를) 나누어떨어지게 해야 합니다"),
    (r"unknown UNetConfig keys (.+); known keys: (.+)",
     r"알 수 없는 UNetConfig 키 \1입니다. 알려진 키: \2"),

    # ---- ddpm_core/lab2d.py and data2d.py: the 2-D lab ---------------------------------------------------
    (rf"steps must be from 1 to {N}, got (.+)\.",
     r"스텝 수는 1부터 \1까지여야 합니다(입력값: \2)."),
    (r"batch size must be from 1 to 8192, got (.+)\.",
     r"배치 크기는 1부터 8192까지여야 합니다(입력값: \1)."),
    (r"learning rate must be in \(0, 1\], got (.+)\.",
     r"학습률은 (0, 1] 범위여야 합니다(입력값: \1)."),
    (r"EMA decay must be in \[0, 1\), got (.+)\.",
     r"EMA 감쇠율은 [0, 1) 범위여야 합니다(입력값: \1)."),
    (r"The word '(.+)' has no dark pixels \(none below 50% grey\): draw a dark shape on a light background\.",
     r"단어 '\1'에 어두운 픽셀이 없습니다(50% 회색보다 어두운 픽셀 없음). 밝은 배경에 어두운 모양을 그리세요."),
    (r"'(.+)' has no dark pixels \(none below 50% grey\): draw a dark shape on a light background\.",
     r"'\1'에 어두운 픽셀이 없습니다(50% 회색보다 어두운 픽셀 없음). 밝은 배경에 어두운 모양을 그리세요."),
    (r"Type a word to turn into points\.",
     r"점으로 바꿀 단어를 입력하세요."),
    (rf"Words of up to {N} characters fit; '(.+)…' has {N}\.",
     r"단어는 \1자까지 들어갑니다. '\2…'은(는) \3자입니다."),
    (rf"The number of points must be from 2 to {N}, got (.+)\.",
     r"점 개수는 2부터 \1까지여야 합니다(입력값: \2)."),
    (r"Upload an image whose dark pixels make the shape\.",
     r"어두운 픽셀이 모양을 이루는 이미지를 업로드하세요."),
    (r"Unknown shape (.+); choose one of (.+)\.",
     r"알 수 없는 모양 \1입니다. 다음 중에서 고르세요: \2."),

    # ---- ui/schedule_controls.py: numbers typed on the page (general shapes: after the core's own) -----------
    (rf"(.+) must be a whole number from {N} to {N}, got (.*)\.",
     r"\1 값은 \2부터 \3까지의 정수여야 합니다(입력값: \4)."),
    (rf"(.+) must be from {N} to {N}, got {N}\.",
     r"\1 값은 \2부터 \3까지여야 합니다(입력값: \4)."),
    (r"(.+) must be a number, got (.*)\.",
     r"\1 값은 숫자여야 합니다(입력값: \2)."),
    (r"Unknown schedule (.+); choose one of (.+)\.",
     r"알 수 없는 스케줄 \1입니다. 다음 중에서 고르세요: \2."),

    # ---- generic "at least" (train.py's TrainConfig, unet.py's blocks_per_level and num_heads) -----------
    (r"(.+) must be at least (.+), got (.+)",
     r"\1은(는) \2 이상이어야 합니다(입력값: \3)"),
]


def _folder_messages() -> list[tuple[str, str]]:
    """data.py's "no images found" message and its folder summary line, in each of their shapes."""
    found = []
    base_en = r"No images found in (.+)/ or its subfolders \(looked for (.+), in any case\)\."
    base_ko = r"\1/ 폴더와 하위 폴더에서 이미지를 찾지 못했습니다(찾은 확장자: \2, 대소문자 무관)."
    others_en, others_ko = rf" It holds {N} other files?, e\.g\. (.+)\.", r" 이미지가 아닌 파일 \3개가 있습니다(예: \4)."
    found += [
        (base_en + others_en, base_ko + others_ko),
        (base_en + others_en + r" Not followed: (.+)\.", base_ko + others_ko + r" 따라가지 않은 항목: \5."),
        (base_en + r" The folder is empty \(hidden files are ignored\)\.",
         base_ko + r" 폴더가 비어 있습니다(숨김 파일은 무시합니다)."),
        (base_en + r" Not followed: (.+)\.", base_ko + r" 따라가지 않은 항목: \3."),
    ]
    return found


_RAW += _folder_messages()

# ImageFolderData.summary(): "1,797 images from digits/ at 16×16 grey, randomly flipped (3 held out for
# evaluation); 2 files skipped: …; 1 other file ignored (not an image type)", each part after the size
# optional. One pattern, put together part by part from the catalogue's texts (ui/ko/train.py); the
# names of skipped files stay as written.
SUMMARY = re.compile(r"(?P<count>[\d,]+) images? from (?P<folder>.*)/ at (?P<size>\d+)×(?P=size) (?P<kind>grey|RGB)"
                     r"(?P<flip>, randomly flipped)?(?: \((?P<held>[\d,]+) held out for evaluation\))?"
                     r"(?:; (?P<skipped>[\d,]+) files? skipped: (?P<names>.*?))?"
                     r"(?:; (?P<others>[\d,]+) other files? ignored \(not an image type\))?", re.DOTALL)


def summary(match: re.Match, _) -> str:
    """The data summary in the language of `_` (the catalogue lookup)."""
    part = match.groupdict()
    kind = _("grey") if part["kind"] == "grey" else part["kind"]
    text = _("{count} images from {folder}/ at {size}×{size} {kind}").format(
        count=part["count"], folder=part["folder"], size=part["size"], kind=kind)
    if part["flip"]:
        text += _(", randomly flipped")
    if part["held"]:
        text += _(" ({count} held out for evaluation)").format(count=part["held"])
    if part["skipped"]:
        text += _("; {count} files skipped: {names}").format(count=part["skipped"], names=part["names"])
    if part["others"]:
        text += _("; {count} other files ignored (not an image type)").format(count=part["others"])
    return text


PATTERNS = [(re.compile(english, re.DOTALL), korean) for english, korean in _RAW]
