"""Exact expected-loss dynamics and its critical learning rate, without the SE approximation.

The exact averaged recursion of theory.md §3 costs five N x N GEMMs a step in the data basis.  In
K's eigenbasis (``K = U diag(lambda) U^T``) everything but the sampling noise is elementwise, and
the noise only needs the data-basis diagonal ``d = diag(U C U^T)`` of the error covariance:

    N K diag(d) K  ->  Lambda (U^T diag(d) U) Lambda,

so a step costs a GEMM (for d) and a syrk (for ``U^T diag(d) U``, half a GEMM):
:func:`exact_loss_trajectory_eigen`.

Stability.  Split one step into a deterministic part, which acts on each eigen-pair (k, l) as a
4 x 4 linear map T_kl on ``(C_kl, J_kl, J_lk, P_kl)`` (it includes the ``-gamma lr^2 KCK`` part of
the noise), and the injection ``N gamma lr^2 lambda_k lambda_l (U^T diag(d) U)_kl`` that enters
all four components equally.  The expected dynamics is then a renewal equation in the N-vector
``d_t``; summed over time its kernel is the symmetric positive semi-definite N x N matrix

    G(1) = N gamma lr^2 sum_kl W_kl (u_k o u_l)(u_k o u_l)^T,   W_kl = lambda_k lambda_l R_kl >= 0,

with ``R_kl`` the summed C-response of the pair map to a unit injection (:func:`pair_response`).
Why its largest eigenvalue decides convergence:

* ``G(1) x = x`` has a solution exactly when the full second-moment map F has the eigenvalue 1
  (Schur complement), as long as no T_kl has the eigenvalue 1, i.e. ``D_kl = det(I - T_kl) > 0``;
  this holds everywhere inside the noiseless region (:func:`pair_denominator`).
* F = E_B[A_B (x) A_B] maps covariances to covariances, so its spectral radius is one of its
  eigenvalues (Krein-Rutman), and it is below 1 for small lr > 0.  As lr grows, the loss stops
  converging where that eigenvalue reaches 1, which is where the largest eigenvalue of G(1) first
  reaches 1 (:func:`second_moment_radius`, :func:`exact_critical_lr`).  The tests check this
  against F built from all batches and against long time-domain runs.
* The pair maps themselves need *not* be stable (|mu| < 1): for b = 1, T_kk has an eigenvalue
  below -1 once ``lr lambda_k > 1`` (beta = 0), yet the full dynamics, of which the injection is
  part, can still converge.  Their stability is therefore no part of the criterion.

Zero eigenvalues take no noise (W = 0); error components in K's null space stay frozen and only
leave a constant floor (a stationary noise level if the error is not in K's range).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy.linalg.blas import dgemm, dsyrk
from scipy.sparse.linalg import LinearOperator, eigsh

from .theory import critical_lr, noiseless_lr_bound, unique_steps

# --------------------------------------------------------------------------------------------
# Basis changes: the only two GEMMs of a step or a matvec
# --------------------------------------------------------------------------------------------


def data_diagonal(eigenvectors: np.ndarray, matrix_in_eigenbasis: np.ndarray) -> np.ndarray:
    """``diag(U X U^T)`` as ``rowsum((U X) o U)``: the data-basis diagonal in one GEMM.

    The GEMM is SciPy's, like the syrk of :func:`noise_matrix_upper`: NumPy and SciPy ship
    separate OpenBLAS builds with separate thread pools, and alternating between them every step
    measured slower than staying in one.  C-ordered ``U X`` is ``(X^T U^T)`` to Fortran: no copy.
    """
    product = dgemm(1.0, np.asarray(matrix_in_eigenbasis, dtype=np.float64).T, eigenvectors.T).T
    return np.einsum("ik,ik->i", product, eigenvectors)


def diagonal_in_eigenbasis(eigenvectors: np.ndarray, data_vector: np.ndarray) -> np.ndarray:
    """``U^T diag(x) U`` (symmetrised): a data-basis diagonal matrix seen in the eigenbasis."""
    m = eigenvectors.T @ (data_vector[:, None] * eigenvectors)
    return (m + m.T) / 2


def noise_matrix_upper(eigenvectors: np.ndarray, matrix_in_eigenbasis: np.ndarray) -> np.ndarray:
    """``M = U^T diag(d) U`` with ``d = diag(U C U^T)``, valid in its upper triangle only.

    C is a second moment, so d >= 0 (round-off negatives are set to 0) and M = S^T S with
    ``S = sqrt(d) U`` (rows scaled): a rank-k update (BLAS syrk) does half the work of a GEMM.
    The C-ordered ``S`` is ``S^T`` to Fortran, so syrk's lower triangle of ``S^T S`` comes back,
    read in C order, as the upper triangle of M, with no copy either way.
    """
    d = np.clip(data_diagonal(eigenvectors, matrix_in_eigenbasis), 0.0, None)
    scaled = np.sqrt(d)[:, None] * eigenvectors
    return dsyrk(1.0, scaled.T, trans=0, lower=1).T


def symmetric_from_upper(upper: np.ndarray) -> np.ndarray:
    """The symmetric matrix whose upper triangle (diagonal included) is that of ``upper``."""
    return np.triu(upper) + np.triu(upper, 1).T


def _clean_spectrum(eigenvalues, eigenvectors):
    """float64 arrays, with the round-off negatives of a PSD kernel's eigenvalues set to 0."""
    lam = np.clip(np.asarray(eigenvalues, dtype=np.float64), 0.0, None)
    vecs = np.ascontiguousarray(eigenvectors, dtype=np.float64)
    if vecs.shape != (len(lam), len(lam)):
        raise ValueError(f"eigenvectors must be {len(lam)} x {len(lam)} (columns = eigenvectors)")
    return lam, vecs


# --------------------------------------------------------------------------------------------
# Exact averaged recursion in the eigenbasis
# --------------------------------------------------------------------------------------------


@njit(cache=True)
def _pair_step(C, J, P, M, lam, lr, beta, gamma):  # pragma: no cover - compiled
    """One step of every eigen-pair in place, given ``M = U^T diag(d) U`` in its upper triangle
    (:func:`noise_matrix_upper`; the lower one is not read).

    All elementwise work of a step in one pass over the upper triangle: C and P are written
    exactly symmetric, so no antisymmetric round-off part can grow (theory.md §3).
    """
    n = lam.shape[0]
    for k in range(n):
        for l in range(k, n):
            lk, ll = lam[k], lam[l]
            c, j_kl, j_lk = C[k, l], J[k, l], J[l, k]
            m = M[k, l]
            common = (
                lr * lr * lk * ll * ((1 - gamma) * c + gamma * n * m)
                - lr * beta * (lk * j_kl + ll * j_lk)
                + beta * beta * P[k, l]
            )
            c_new = (1 - lr * (lk + ll)) * c + beta * (j_kl + j_lk) + common
            J[k, l] = beta * j_kl - lr * c * ll + common
            J[l, k] = beta * j_lk - lr * c * lk + common
            C[k, l] = c_new
            C[l, k] = c_new
            P[k, l] = common
            P[l, k] = common


def exact_loss_trajectory_eigen(
    eigenvalues, eigenvectors, initial_error, lr: float, momentum: float, gamma: float, record_steps
) -> np.ndarray:
    """The exact averaged recursion of :func:`theory.exact_loss_trajectory`, in K's eigenbasis.

    With ``L = lambda_k lambda_l`` (elementwise) and ``M = U^T diag(diag(U C U^T)) U``::

        common = lr^2 L C - lr beta (Lambda J + (Lambda J)^T) + beta^2 P + lr^2 gamma L (N M - C)
        C' = C - lr (lambda_k + lambda_l) C + beta (J + J^T) + common
        J' = beta J - lr C lambda_l + common,      P' = common

    A GEMM (for d) and a syrk (for M, half a GEMM) a step instead of five GEMMs; the rest is one fused pass
    (:func:`_pair_step`).  Returns the loss ``tr(C) / (2N)`` at ``record_steps``; the recursion
    itself is :func:`exact_second_moments_eigen`.
    """
    steps, inverse = unique_steps(record_steps)
    out = np.array(
        [
            np.trace(C) / (2 * len(C))
            for _, C, _ in exact_second_moments_eigen(
                eigenvalues, eigenvectors, initial_error, lr, momentum, gamma, steps
            )
        ]
    )
    return out[inverse]


def exact_second_moments_eigen(
    eigenvalues, eigenvectors, initial_error, lr: float, momentum: float, gamma: float, record_steps
):
    """Yield ``(t, C, M)`` at each recorded step t (ascending, distinct) of the recursion of
    :func:`exact_loss_trajectory_eigen`: the eigenbasis error covariance C and its noise matrix
    ``M = U^T diag(diag(U C U^T)) U`` (exactly symmetric), which that step uses anyway.

    ``initial_error`` is the error vector e_0 (C_0 = U^T e_0 e_0^T U) or, as an N x N array, the
    data-basis second moment E[e_0 e_0^T] itself.  C is updated in place by the next step: copy it
    to keep it.
    """
    lam, U = _clean_spectrum(eigenvalues, eigenvectors)
    n = len(lam)
    e0 = np.asarray(initial_error, dtype=np.float64)
    if e0.ndim == 2:
        C = U.T @ e0 @ U
        C = (C + C.T) / 2
    else:
        coef = U.T @ e0
        C = np.outer(coef, coef)
    J, P = np.zeros((n, n)), np.zeros((n, n))
    steps, _ = unique_steps(record_steps)
    rec = 0
    for t in range(int(steps[-1]) + 1):
        M = noise_matrix_upper(U, C)
        if t == steps[rec]:
            yield t, C, symmetric_from_upper(M)
            rec += 1
            if rec == len(steps):
                return
        _pair_step(C, J, P, M, lam, float(lr), float(momentum), float(gamma))


# --------------------------------------------------------------------------------------------
# The 4 x 4 pair map and its summed response
# --------------------------------------------------------------------------------------------


def pair_denominator(a_k, a_l, momentum: float, gamma: float):
    """``D_kl = det(I - T_kl)`` of the deterministic pair map at z = 1 (sympy-derived)::

        D = (1-b)(1-b^2)(a_k + a_l) + b (a_k - a_l)^2 - ((1-b)^2 - gamma (1-b^2)) a_k a_l

    with ``a = lr lambda``, ``b = beta``.  The characteristic polynomial of the pair map is
    ``det(mu - T) = det(mu - A_k (x) A_l) + gamma a_k a_l mu (mu^2 - b^2)`` (A = the 2 x 2
    heavy-ball map), so ``D = det(I - A_k (x) A_l) + gamma (1-b^2) a_k a_l``.  The first term is a
    product of ``1 - mu_i mu_j`` over heavy-ball eigenvalues, positive when both modes meet the
    noiseless condition, so D > 0 there: R_kl never has a pole.  For k = l,
    ``D = a (1-b) [2(1-b^2) - a((1-b) - gamma(1+b))]``, the SE (tau = 1) denominator.  (Full
    |mu| < 1 stability of T also needs ``det(-1 - T) > 0`` and more; for b = 0 it is
    ``|(1-a_k)(1-a_l) - gamma a_k a_l| < 1``.  It is not needed: see the module docstring.)
    """
    b = momentum
    a_k, a_l = np.asarray(a_k, dtype=np.float64), np.asarray(a_l, dtype=np.float64)
    return (
        (1 - b) * (1 - b * b) * (a_k + a_l)
        + b * (a_k - a_l) ** 2
        - ((1 - b) ** 2 - gamma * (1 - b * b)) * a_k * a_l
    )


def pair_response(a_k, a_l, momentum: float, gamma: float):
    """``R_kl = sum_{t>=0} [T_kl^t (1,1,1,1)]_C = (1 - beta^2) / D_kl``: the total C_kl response of
    the pair map to a unit injection; ``gamma lr^2 lambda^2 R_kk`` is the per-mode term of U(1)."""
    return (1 - momentum**2) / pair_denominator(a_k, a_l, momentum, gamma)


def _denominator_parts(eigenvalues, momentum: float, gamma: float):
    """``(D1, D2)`` with ``D_kl = lr D1_kl + lr^2 D2_kl`` for every pair: D as a function of lr."""
    lam, b = np.asarray(eigenvalues, dtype=np.float64), momentum
    d1 = (1 - b) * (1 - b * b) * (lam[:, None] + lam[None, :])
    d2 = b * (lam[:, None] - lam[None, :]) ** 2 - ((1 - b) ** 2 - gamma * (1 - b * b)) * np.outer(lam, lam)
    return d1, d2


def _scaled_weights(eigenvalues, lr: float, momentum: float, gamma: float, derivative: bool = False):
    """``N gamma lr^2 W_kl = N gamma (1-b^2) lambda_k lambda_l lr / (D1 + lr D2)``, the weights of
    G(1), or their derivative in lr, ``N gamma (1-b^2) lambda_k lambda_l D1 / (D1 + lr D2)^2``.
    Zero where an eigenvalue is 0 (such modes take no noise)."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    d1, d2 = _denominator_parts(lam, momentum, gamma)
    scale = len(lam) * gamma * (1 - momentum**2) * np.outer(lam, lam)
    den = d1 + lr * d2
    num, den = (scale * d1, den * den) if derivative else (scale * lr, den)
    return np.divide(num, den, out=np.zeros_like(scale), where=scale > 0)


def noise_weights(eigenvalues, lr: float, momentum: float, gamma: float) -> np.ndarray:
    """``W_kl = lambda_k lambda_l R_kl`` (0 where an eigenvalue is 0: such modes take no noise)."""
    n = len(np.asarray(eigenvalues))
    return _scaled_weights(eigenvalues, lr, momentum, gamma) / (n * gamma * lr * lr)


# --------------------------------------------------------------------------------------------
# G(1), its largest eigenvalue, and the critical learning rate
# --------------------------------------------------------------------------------------------


def renewal_operator(eigenvalues, eigenvectors, lr: float, momentum: float, gamma: float) -> LinearOperator:
    """``G(1) x = N gamma lr^2 diag(U (W o (U^T diag(x) U)) U^T)`` as a symmetric LinearOperator.

    It maps the data-basis diagonal of one step's noise source to the summed data-basis diagonal of
    all the error covariance it causes later; two GEMMs per product.
    """
    lam, U = _clean_spectrum(eigenvalues, eigenvectors)
    n = len(lam)
    weights = _scaled_weights(lam, lr, momentum, gamma)

    def matvec(x):
        return data_diagonal(U, weights * diagonal_in_eigenbasis(U, np.ravel(x)))

    return LinearOperator((n, n), matvec=matvec, rmatvec=matvec, dtype=np.float64)


def second_moment_radius(
    eigenvalues,
    eigenvectors,
    lr: float,
    momentum: float,
    gamma: float,
    v0=None,
    tol: float = 1e-12,
    return_vector: bool = False,
    info: dict | None = None,
):
    """Largest eigenvalue of G(1), for lr inside the noiseless region: the expected loss converges
    for lr below the first lr where it reaches 1 (see the module docstring).

    ``v0`` warm-starts the Lanczos iteration (the previous eigenvector of a nearby lr; the default
    is the all-ones vector, the exact eigenvector when eigenvectors are spread evenly over the data,
    as for translation-invariant kernels).  With ``return_vector`` returns ``(radius, vector)``;
    ``info["matvecs"]`` (if a dict is given) is increased by the number of G(1) products used.
    """
    n = len(np.asarray(eigenvalues))
    if gamma == 0 or lr == 0:
        vec = np.ones(n) / np.sqrt(n)
        return (0.0, vec) if return_vector else 0.0
    op = renewal_operator(eigenvalues, eigenvectors, lr, momentum, gamma)
    counted = {"matvecs": 0}

    def matvec(x):
        counted["matvecs"] += 1
        return op.matvec(x)

    start = np.ones(n) if v0 is None else np.asarray(v0, dtype=np.float64)
    warm = _warm_power_iteration(matvec, start, tol) if v0 is not None and n > 6 else None
    if warm is not None:
        val, vec = warm
    elif n <= 6:  # ARPACK needs ncv < n: tiny problems go dense
        vals, vecs = np.linalg.eigh(np.column_stack([matvec(col) for col in np.eye(n)]))
        val, vec = vals[-1], vecs[:, -1]
    else:
        vals, vecs = eigsh(
            LinearOperator((n, n), matvec=matvec, dtype=np.float64),
            k=1,
            which="LA",
            v0=start,
            tol=tol,
            ncv=min(n - 1, 6),
        )
        val, vec = vals[0], vecs[:, 0]
    if info is not None:
        info["matvecs"] = info.get("matvecs", 0) + counted["matvecs"]
    return (float(val), vec) if return_vector else float(val)


#: Power steps tried from a warm start before falling back to Lanczos.
WARM_POWER_STEPS = 8


def _warm_power_iteration(matvec, start, tol: float):
    """Top eigenpair by power iteration from a nearby eigenvector (the previous lr's), or None.

    G(1) is entrywise non-negative (column j is the diagonal of the error covariance that a noise
    source at sample j alone causes, a PSD matrix), so by Perron-Frobenius an eigenvector with
    all entries positive belongs to its largest eigenvalue: a positive ``v`` with a small residual
    certifies the top pair, whichever start it came from.  For symmetric G the error of the
    Rayleigh quotient is about ``|G v - rho v|^2 / gap``, so a residual below ``sqrt(tol) rho``
    gives rho to about ``tol`` (the gap is a sizeable fraction of rho on real and synthetic
    kernels).  A warm start settles it in a few products where Lanczos spends at least ``ncv``;
    without the certificate within WARM_POWER_STEPS it gives up (None) and Lanczos decides.
    """
    v = start / (np.linalg.norm(start) * (1 if start.sum() >= 0 else -1))  # Lanczos' sign is arbitrary
    for _ in range(WARM_POWER_STEPS):
        w = matvec(v)
        rho = float(v @ w)
        if rho <= 0:
            return None
        if np.linalg.norm(w - rho * v) <= np.sqrt(tol) * rho and np.all(w > 0):
            return rho, w / np.linalg.norm(w)
        v = w / np.linalg.norm(w)
    return None


def radius_derivative(eigenvalues, eigenvectors, lr: float, momentum: float, gamma: float, vector) -> float:
    """``d radius / d lr`` from the unit top eigenvector v of G(1) (Hellmann-Feynman): since
    ``v^T G v = sum_kl N gamma lr^2 W_kl M_kl^2`` with ``M = U^T diag(v) U``, it is the same sum
    with the lr-derivative of the weights.  One GEMM."""
    lam, U = _clean_spectrum(eigenvalues, eigenvectors)
    v = np.asarray(vector, dtype=np.float64)
    M = diagonal_in_eigenbasis(U, v / np.linalg.norm(v))
    return float(np.sum(_scaled_weights(lam, lr, momentum, gamma, derivative=True) * M * M))


def _safeguarded_newton(radius_and_slope, guess: float, bound: float, rtol: float, max_iter: int = 60):
    """First lr in (0, bound) with radius = 1, or ``bound`` if the radius stays below 1 up to it.

    Newton's method on ``log radius`` against ``log lr`` (nearly linear: G(1) ~ lr at small lr),
    kept inside the bracket (lo, hi) of lrs known to be stable / unstable; a step that leaves it is
    replaced by a geometric bisection.  Converges in a few evaluations from the SE guess.
    """
    top = bound * (1 - 1e-12)
    lo, hi, x = 0.0, None, min(guess, top)
    for _ in range(max_iter):
        r, slope = radius_and_slope(x)
        if r < 1:
            lo = x
        else:
            hi = x
        nxt = x * np.exp(-np.log(r) * r / (x * slope)) if r > 0 and slope > 0 else np.nan
        if abs(nxt - x) <= rtol * x or (hi is not None and hi - lo <= rtol * hi):
            return float(nxt if np.isfinite(nxt) else (lo + hi) / 2)
        if hi is None and not nxt < top:  # stable here and Newton aims past the bound
            if x == top:
                return float(bound)
            nxt = top
        elif not lo < nxt < (top if hi is None else hi):
            nxt = np.sqrt(lo * hi) if lo > 0 else hi / 2
        x = nxt
    raise RuntimeError(f"no convergence in {max_iter} radius evaluations (bracket {lo}, {hi})")


def exact_critical_lr(
    eigenvalues,
    eigenvectors,
    momentum: float,
    gamma: float,
    rtol: float = 1e-10,
    info: dict | None = None,
    v0=None,
    se_ratio: float = 1.0,
) -> float:
    """Critical learning rate of the exact expected loss: the lr where ``second_moment_radius = 1``,
    capped by the noiseless bound ``2 (1 + beta) / lambda_max``.

    Starts at the SE tau = +1 value (exact for translation-invariant kernels) and runs a bracketed
    Newton iteration (:func:`_safeguarded_newton`) with the slope from :func:`radius_derivative`;
    every radius evaluation warm-starts from the previous eigenvector (the first from ``v0``, for
    example a neighbouring momentum's, if given).  ``se_ratio`` scales the SE start: a
    neighbouring momentum's exact / SE ratio, which varies slowly with momentum.  Pass a dict as ``info`` to get the number of
    radius evaluations and G(1) products, and the last top eigenvector (``vector``), back.
    """
    lam, U = _clean_spectrum(eigenvalues, eigenvectors)
    if not -1 < momentum < 1:
        raise ValueError(f"momentum must lie in (-1, 1), got {momentum}")
    bound = noiseless_lr_bound(momentum, float(lam.max()))
    if gamma == 0:
        return float(bound)
    state = {"vector": v0, "evaluations": 0, "matvecs": 0}

    def radius_and_slope(lr):
        radius, state["vector"] = second_moment_radius(
            lam, U, lr, momentum, gamma, v0=state["vector"], return_vector=True, info=state
        )
        state["evaluations"] += 1
        return radius, radius_derivative(lam, U, lr, momentum, gamma, state["vector"])

    guess = se_ratio * critical_lr(lam, momentum, gamma, tau=1.0)
    root = _safeguarded_newton(radius_and_slope, guess, bound, rtol)
    if info is not None:
        info.update(
            evaluations=state["evaluations"],
            matvecs=state["matvecs"],
            vector=state["vector"],
            se_ratio=root / critical_lr(lam, momentum, gamma, tau=1.0),
        )
    return root
