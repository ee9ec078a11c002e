// pages/signin.js: the sign-in form. The admin token goes to POST
// /api/v1/session, which answers with an HttpOnly session cookie; nothing is
// stored by the page itself.
import { h } from '../dom.js';
import { api } from '../api.js';
import { t } from '../i18n.js';

export default {
  path: '/signin',
  nav: 'signin.title',
  render(root, ctx, done) {
    const input = h('input', { id: 'token', type: 'password', name: 'token', autocomplete: 'current-password', required: true });
    const error = h('p', { class: 'form-error', role: 'alert' });
    const submit = h('button', { type: 'submit', class: 'primary' }, t('signin.submit'));
    const onSubmit = async (e) => {
      e.preventDefault();
      error.textContent = '';
      submit.disabled = true;
      try {
        await api('/api/v1/session', { body: { token: input.value }, signal: ctx.signal });
        done();
      } catch (err) {
        if (!ctx.signal.aborted) {
          error.textContent = err.status === 401 ? t('signin.wrong') + ' (' + err.message + ')' : err.message;
          input.select();
        }
      } finally {
        submit.disabled = false;
      }
    };
    root.append(h('form', { class: 'signin card', onSubmit },
      h('div', { class: 'brand big' }, 'actlog'),
      h('h1', null, t('signin.title')),
      h('p', { class: 'muted' }, t('signin.help')),
      h('label', { for: 'token' }, t('signin.token')),
      input, error, submit));
    input.focus();
  },
};
