"""Korean for what every tab shares: the header, the switches, the schedule controls, generic messages."""

KO = {
    # header and switches
    "DDPM Explorer": "DDPM 탐색기",
    "Projector mode": "프로젝터 모드",
    "Language": "언어",
    # generic messages (ui/errors.py)
    "Something went wrong ({kind}). The app is still running; please try again or change the input.":
        "문제가 생겼습니다 ({kind}). 앱은 계속 실행 중이니 다시 시도하거나 입력을 바꿔 보세요.",
}
