"""Korean for what every tab shares: the header, the switches, the schedule controls, generic messages."""

KO = {
    # header and switches
    "Projector mode": "프로젝터 모드",
    "📽 Projector mode": "📽 프로젝터 모드",
    "Language": "언어",
    # tabs
    "Forward process": "순방향 과정",
    "2-D lab": "2-D 실습",
    "Train": "학습",
    "Sample": "샘플링",
    "Evaluate": "평가",
    # generic messages (ui/errors.py)
    "Something went wrong ({kind}). The app is still running; please try again or change the input.":
        "문제가 생겼습니다 ({kind}). 앱은 계속 실행 중이니 다시 시도하거나 입력을 바꿔 보세요.",
}
