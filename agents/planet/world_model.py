"""PlaNet's world model (Hafner et al., 2019): the recurrent state-space model and its heads.

The latent state at time ``t`` is a pair: a deterministic belief ``h_t`` (GRU, 200 units) and a
stochastic state ``s_t`` (diagonal Gaussian, 30 units).

- transition, deterministic part: ``h_t = GRU(h_{t-1}, f(s_{t-1}, a_{t-1}))``
- transition prior:               ``p(s_t | h_t)``
- posterior (filter):             ``q(s_t | h_t, e(o_t))`` with ``e`` the encoder
- observation model:              ``p(o_t | h_t, s_t)``, a unit-variance Gaussian around the decoder's output
- reward model:                   ``p(r_t | h_t, s_t)``, a unit-variance Gaussian

Trained on sequence chunks with the ELBO of the paper (one-step KL, no overshooting)::

    loss = sum_t [ -ln p(o_t | h_t, s_t) - ln p(r_t | h_t, s_t)
                   + max(free_nats, KL(q(s_t | h_t, o_t) || p(s_t | h_t))) ]

averaged over the batch and the time steps (constants of the Gaussian log-likelihoods dropped).
Time step 0 of a chunk starts from ``h = 0, s = 0`` and a zero action, as an episode does.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch as th
from torch import nn
from torch.nn import functional as F


def preprocess_pixels(images: th.Tensor, bit_depth: int = 5, noise: bool = True) -> th.Tensor:
    """``uint8`` images to floats in ``[-0.5, 0.5)`` at ``bit_depth`` bits, as in the paper.

    :param images: ``uint8`` tensor of any shape
    :param bit_depth: bits kept per colour channel (the paper: 5)
    :param noise: add uniform dequantisation noise of one bin (training targets); off for planning
    """
    bins = 2**bit_depth
    x = th.floor(images.float() / 2 ** (8 - bit_depth)) / bins - 0.5
    if noise:
        x = x + th.rand_like(x) / bins
    return x


def postprocess_pixels(x: th.Tensor, bit_depth: int = 5) -> th.Tensor:
    """The inverse of :func:`preprocess_pixels` (for pictures): floats to ``uint8``."""
    bins = 2**bit_depth
    return th.clamp(th.floor((x + 0.5) * bins) * 2 ** (8 - bit_depth), 0, 255).to(th.uint8)


class StateEncoder(nn.Module):
    """MLP encoder of vector observations: ``obs_dim -> hidden -> hidden -> embedding``."""

    def __init__(self, obs_dim: int, hidden_size: int, embedding_size: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(obs_dim, hidden_size), nn.ELU(), nn.Linear(hidden_size, hidden_size), nn.ELU(), nn.Linear(hidden_size, embedding_size)
        )
        self.embedding_size = embedding_size

    def forward(self, obs: th.Tensor) -> th.Tensor:
        return self.net(obs)


class StateDecoder(nn.Module):
    """MLP mean of ``p(o | h, s)`` for vector observations."""

    def __init__(self, latent_size: int, hidden_size: int, obs_dim: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_size, hidden_size), nn.ELU(), nn.Linear(hidden_size, hidden_size), nn.ELU(), nn.Linear(hidden_size, obs_dim)
        )

    def forward(self, latent: th.Tensor) -> th.Tensor:
        return self.net(latent)


class ConvEncoder(nn.Module):
    """Convolutional encoder of 64x64 images (channels first): four stride-2 convolutions, 1024 features."""

    embedding_size = 1024

    def __init__(self, channels: int = 3, depth: int = 32):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, depth, 4, stride=2), nn.ReLU(),
            nn.Conv2d(depth, 2 * depth, 4, stride=2), nn.ReLU(),
            nn.Conv2d(2 * depth, 4 * depth, 4, stride=2), nn.ReLU(),
            nn.Conv2d(4 * depth, 8 * depth, 4, stride=2), nn.ReLU(),
            nn.Flatten(),
        )
        self.embedding_size = 8 * depth * 2 * 2

    def forward(self, obs: th.Tensor) -> th.Tensor:
        batch = obs.shape[:-3]
        return self.net(obs.reshape(-1, *obs.shape[-3:])).reshape(*batch, -1)


class ConvDecoder(nn.Module):
    """Transposed-convolution mean of ``p(o | h, s)`` for 64x64 images."""

    def __init__(self, latent_size: int, channels: int = 3, depth: int = 32):
        super().__init__()
        self.depth = depth
        self.fc = nn.Linear(latent_size, 32 * depth)
        self.net = nn.Sequential(
            nn.ConvTranspose2d(32 * depth, 4 * depth, 5, stride=2), nn.ReLU(),
            nn.ConvTranspose2d(4 * depth, 2 * depth, 5, stride=2), nn.ReLU(),
            nn.ConvTranspose2d(2 * depth, depth, 6, stride=2), nn.ReLU(),
            nn.ConvTranspose2d(depth, channels, 6, stride=2),
        )

    def forward(self, latent: th.Tensor) -> th.Tensor:
        batch = latent.shape[:-1]
        x = self.fc(latent.reshape(-1, latent.shape[-1])).reshape(-1, 32 * self.depth, 1, 1)
        x = self.net(x)
        return x.reshape(*batch, *x.shape[1:])


class RewardModel(nn.Module):
    """Mean of ``p(r | h, s)``: an MLP with two hidden layers."""

    def __init__(self, latent_size: int, hidden_size: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent_size, hidden_size), nn.ELU(), nn.Linear(hidden_size, hidden_size), nn.ELU(), nn.Linear(hidden_size, 1))

    def forward(self, latent: th.Tensor) -> th.Tensor:
        return self.net(latent).squeeze(-1)


@dataclass
class Gaussian:
    """A diagonal Gaussian by its mean and standard deviation."""

    mean: th.Tensor
    std: th.Tensor

    def sample(self) -> th.Tensor:
        return self.mean + self.std * th.randn_like(self.std)


def gaussian_kl(q: Gaussian, p: Gaussian) -> th.Tensor:
    """``KL(q || p)`` of diagonal Gaussians, summed over the last dimension."""
    var_ratio = (q.std / p.std) ** 2
    mean_term = ((q.mean - p.mean) / p.std) ** 2
    return 0.5 * (var_ratio + mean_term - 1.0 - th.log(var_ratio)).sum(-1)


def free_nats_kl(q: Gaussian, p: Gaussian, free_nats: float) -> th.Tensor:
    """The KL term of the ELBO: ``max(free_nats, KL(q || p))`` per batch element and time step, averaged."""
    return th.clamp(gaussian_kl(q, p), min=free_nats).mean()


class RSSM(nn.Module):
    """Recurrent state-space model: the transition (deterministic GRU and Gaussian prior) and the posterior.

    :param action_dim: size of the (normalised) action
    :param embedding_size: size of the encoder's features
    :param deterministic_size: units of the GRU belief ``h``
    :param stochastic_size: dimensions of the Gaussian state ``s``
    :param hidden_size: units of the layers around the GRU
    :param min_std: lower bound of the Gaussians' standard deviations
    """

    def __init__(self, action_dim: int, embedding_size: int, deterministic_size: int = 200, stochastic_size: int = 30,
                 hidden_size: int = 200, min_std: float = 0.1):
        super().__init__()
        self.deterministic_size = deterministic_size
        self.stochastic_size = stochastic_size
        self.min_std = min_std
        self.input_layer = nn.Sequential(nn.Linear(stochastic_size + action_dim, deterministic_size), nn.ELU())
        self.gru = nn.GRUCell(deterministic_size, deterministic_size)
        self.prior_net = nn.Sequential(nn.Linear(deterministic_size, hidden_size), nn.ELU(), nn.Linear(hidden_size, 2 * stochastic_size))
        self.posterior_net = nn.Sequential(
            nn.Linear(deterministic_size + embedding_size, hidden_size), nn.ELU(), nn.Linear(hidden_size, 2 * stochastic_size)
        )

    @property
    def latent_size(self) -> int:
        """Size of the model state ``[h, s]`` that the heads and the planner see."""
        return self.deterministic_size + self.stochastic_size

    def initial(self, batch_size: int, device: th.device | str = "cpu") -> tuple[th.Tensor, th.Tensor]:
        """``h = 0, s = 0`` for ``batch_size`` sequences (the start of an episode)."""
        return th.zeros(batch_size, self.deterministic_size, device=device), th.zeros(batch_size, self.stochastic_size, device=device)

    def _gaussian(self, out: th.Tensor) -> Gaussian:
        mean, raw_std = out.chunk(2, dim=-1)
        return Gaussian(mean, F.softplus(raw_std) + self.min_std)

    def deterministic_step(self, h: th.Tensor, s: th.Tensor, action: th.Tensor) -> th.Tensor:
        """``h_t = GRU(h_{t-1}, f(s_{t-1}, a_{t-1}))``."""
        return self.gru(self.input_layer(th.cat([s, action], dim=-1)), h)

    def prior(self, h: th.Tensor) -> Gaussian:
        """``p(s_t | h_t)``."""
        return self._gaussian(self.prior_net(h))

    def posterior(self, h: th.Tensor, embedding: th.Tensor) -> Gaussian:
        """``q(s_t | h_t, e(o_t))``."""
        return self._gaussian(self.posterior_net(th.cat([h, embedding], dim=-1)))

    def imagine_step(self, latent: th.Tensor, action: th.Tensor) -> th.Tensor:
        """One step of the transition on ``[h, s]`` with the prior's mean as ``s`` (what the planner rolls out)."""
        h, s = latent.split([self.deterministic_size, self.stochastic_size], dim=-1)
        h = self.deterministic_step(h, s, action)
        return th.cat([h, self.prior(h).mean], dim=-1)

    def observe(self, embeddings: th.Tensor, actions: th.Tensor) -> dict[str, th.Tensor | Gaussian]:
        """Filter a batch of sequences: posterior states given the observations' features.

        :param embeddings: ``(T, B, embedding_size)`` features of ``o_0 .. o_{T-1}``
        :param actions: ``(T - 1, B, action_dim)`` actions ``a_0 .. a_{T-2}``
        :return: ``h`` and sampled ``s`` of shape ``(T, B, .)``, the ``prior`` and ``posterior`` Gaussians
        """
        steps, batch = embeddings.shape[:2]
        h, s = self.initial(batch, embeddings.device)
        zero_action = th.zeros(batch, actions.shape[-1], device=embeddings.device)
        hs, ss, prior_means, prior_stds, post_means, post_stds = [], [], [], [], [], []
        for t in range(steps):
            h = self.deterministic_step(h, s, zero_action if t == 0 else actions[t - 1])
            prior, posterior = self.prior(h), self.posterior(h, embeddings[t])
            s = posterior.sample()
            hs.append(h)
            ss.append(s)
            prior_means.append(prior.mean)
            prior_stds.append(prior.std)
            post_means.append(posterior.mean)
            post_stds.append(posterior.std)
        stack = th.stack
        return {
            "h": stack(hs), "s": stack(ss),
            "prior": Gaussian(stack(prior_means), stack(prior_stds)),
            "posterior": Gaussian(stack(post_means), stack(post_stds)),
        }
