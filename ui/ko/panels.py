"""Korean for the equation ↔ code panels (ui/code_panels.py).

Each key is a panel's whole accordion label, "Equation ↔ code: " + its title (`Panel.label`).
"""

KO: dict[str, str] = {
    "Equation ↔ code: q(x_t | x_0): jump straight to step t (Eq. 4)":
        "수식 ↔ 코드: q(x_t | x_0): 스텝 t로 바로 건너뛰기 (식 4)",
    "Equation ↔ code: q(x_t | x_t−1): one step of the Markov chain (Eq. 2)":
        "수식 ↔ 코드: q(x_t | x_t−1): 마르코프 연쇄의 한 스텝 (식 2)",
    "Equation ↔ code: The posterior q(x_t−1 | x_t, x_0) (Eqs. 6–7)":
        "수식 ↔ 코드: 사후 분포 q(x_t−1 | x_t, x_0) (식 6–7)",
    "Equation ↔ code: L_simple: what training minimises (Eq. 14, Algorithm 1)":
        "수식 ↔ 코드: L_simple: 학습이 최소화하는 값 (식 14, 알고리즘 1)",
    "Equation ↔ code: One DDPM step (Algorithm 2)":
        "수식 ↔ 코드: DDPM 한 스텝 (알고리즘 2)",
    "Equation ↔ code: One DDIM step (Song et al. 2021, Eqs. 12 and 16)":
        "수식 ↔ 코드: DDIM 한 스텝 (Song et al. 2021, 식 12, 16)",
    "Equation ↔ code: The terms of the variational bound (Eq. 5) and the decoder (Eq. 13)":
        "수식 ↔ 코드: 변분 하한의 항 (식 5)과 디코더 (식 13)",
    "Equation ↔ code: The reverse step p_θ(x_t−1 | x_t): one function for sampling and the bound":
        "수식 ↔ 코드: 역방향 스텝 p_θ(x_t−1 | x_t): 샘플링과 상한이 함께 쓰는 함수 하나",
    "Equation ↔ code: The score s_θ(x_t, t) = −ε̂ / √(1−ᾱ_t)":
        "수식 ↔ 코드: 스코어 s_θ(x_t, t) = −ε̂ / √(1−ᾱ_t)",
}
